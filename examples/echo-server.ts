/**
 * The transport on its own: a TCP server whose pipeline splits lines and answers each with a
 * custom handler that takes an async step (examples/lib/wordInfo.ts), and a client that sends a
 * few words and prints the answers. No actors, no msgpack: bytes and handlers.
 *
 *   npx tsx examples/echo-server.ts
 */
import { Bootstrap, LineBasedFrameDecoder, ServerBootstrap, type Channel } from '@helios/transport'
import { WordInfoHandler } from './lib/wordInfo.js'

const server = await new ServerBootstrap()
  .transport('tcp')
  .childHandler((ch: Channel) => {
    ch.pipeline.addLast('lines', new LineBasedFrameDecoder({ maxLength: 1024 })).addLast('words', new WordInfoHandler())
  })
  .bind(0, '127.0.0.1')
const port = server.localAddress?.port as number
console.log(`server listening on 127.0.0.1:${port}`)

const words = ['helios', 'netty', 'akka', 'pipeline']
const answers: string[] = []
let allAnswered!: () => void
const done = new Promise<void>((resolve) => {
  allAnswered = resolve
})
const client = await new Bootstrap()
  .transport('tcp')
  .handler((ch: Channel) => {
    ch.pipeline.addLast('lines', new LineBasedFrameDecoder({ maxLength: 1024 })).addLast('print', {
      channelRead(_ctx, line) {
        answers.push(Buffer.from(line as Uint8Array).toString('utf8'))
        console.log(`client got: ${answers.at(-1)}`)
        if (answers.length === words.length) allAnswered()
      },
    })
  })
  .connect(port, '127.0.0.1')

// All the words leave in one write; the server answers them one at a time, in order.
client.writeAndFlush(Buffer.from(words.map((w) => `${w}\n`).join('')))
await done
await client.close()
await server.close()
console.log(
  answers.every((a, i) => a.startsWith(`${words[i]}:`))
    ? 'echo server: every word answered, in order'
    : 'echo server: answers out of order',
)
