/**
 * The actors of the publish/subscribe example (examples/lib/topic.ts), unchanged, between two
 * actor systems over UDP: only `transport: 'udp'` differs. User messages over UDP are at most once
 * and unordered in principle (loopback keeps them); watches and their Terminated stay reliable.
 *
 *   npx tsx examples/udp.ts
 */
import { ActorSystem } from '@helios/actors'
import { Publish, reader, Subscribe, topic, topicMessages } from './lib/topic.js'

const remote = { transport: 'udp' as const, host: '127.0.0.1', port: 0, registry: topicMessages() }
const publisher = await ActorSystem.create('publisher', { remote })
const subscriber = await ActorSystem.create('subscriber', { remote })
const news = publisher.actorOf(topic(), 'news')

const texts = ['one datagram', 'two datagrams', 'three datagrams']
let readAll!: () => void
const allRead = new Promise<void>((resolve) => {
  readAll = resolve
})
let read = 0
const me = subscriber.actorOf(
  reader('subscriber', () => {
    if (++read === texts.length) readAll()
  }),
  'reader',
)

const ref = await subscriber.actorSelection(`${publisher.address.toString()}/user/news`).resolveOne({ timeoutMs: 5000 })
console.log(`subscriber resolved ${ref.path.toString()}`)
await subscriber.ask(ref, new Subscribe(me), { timeoutMs: 5000 })
texts.forEach((text, i) => {
  news.tell(new Publish(i + 1, text))
})
await allRead
await subscriber.terminate()
await publisher.terminate()
console.log('udp: the subscriber read every publication')
