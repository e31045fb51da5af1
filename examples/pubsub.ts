/**
 * Publish/subscribe between processes: this process runs a "news" topic actor
 * (examples/lib/topic.ts) and forks two subscriber processes. Each resolves the topic by its path,
 * subscribes with a ref to its own reader actor (the ref crosses the wire inside a registered
 * message class), and prints the publications it reads. The topic watches its subscribers.
 *
 *   npx tsx examples/pubsub.ts
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ActorSystem } from '@helios/actors'
import { Publish, reader, Subscribe, topic, topicMessages } from './lib/topic.js'

const PUBLICATIONS = ['helios 0.1.0 is out', 'protocol version 3', 'examples run as they are']
const remote = { transport: 'tcp' as const, host: '127.0.0.1', port: 0, registry: topicMessages() }

if (process.argv[2] === 'subscriber') {
  // ---------------------------------------------------------------- a subscriber process
  const [name, topicPath] = process.argv.slice(3) as [string, string]
  const system = await ActorSystem.create(name, { remote })
  let read = 0
  const me = system.actorOf(
    reader(name, () => {
      if (++read === PUBLICATIONS.length) process.send?.('done')
    }),
    'reader',
  )
  const news = await system.actorSelection(topicPath).resolveOne({ timeoutMs: 5000 })
  await system.ask(news, new Subscribe(me), { timeoutMs: 5000 })
  process.send?.('subscribed')
  // The publisher disconnects when it is done: stop, and let the topic know we left.
  process.once('disconnect', () => {
    void system.terminate()
  })
} else {
  // ---------------------------------------------------------------- the publisher
  const system = await ActorSystem.create('publisher', { remote })
  const news = system.actorOf(topic(), 'news')
  const children: ChildProcess[] = ['reader1', 'reader2'].map((name) =>
    fork(fileURLToPath(import.meta.url), ['subscriber', name, news.path.toString()], { execArgv: process.execArgv }),
  )
  const said = (what: string): Promise<unknown> =>
    Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.on('message', (m) => {
              if (m === what) resolve()
            })
            c.once('exit', (code) => reject(new Error(`a subscriber exited (${code}) before it said ${what}`)))
          }),
      ),
    )
  await said('subscribed')
  console.log(`publisher: 2 subscribers on ${news.path.toString()}`)
  const done = said('done')
  PUBLICATIONS.forEach((text, i) => {
    news.tell(new Publish(i + 1, text))
  })
  await done
  for (const c of children) c.disconnect()
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))))
  await system.terminate()
  console.log('pubsub: both subscribers read every publication')
}
