// A TypeScript consumer, type-checked with strict and skipLibCheck: false against the installed
// declarations (it is not run).
import { ActorSystem, Terminated, type ActorRef, type Behavior, type RemoteOptions } from '@helios/actors'
import { Codec, MessageRegistry, type Pdu } from '@helios/codec'
import { LengthFieldBasedFrameDecoder, LengthFieldPrepender, ServerBootstrap, type Channel } from '@helios/transport'
import { DevCertificateAuthority, EmbeddedChannel, ManualClock, devCertificates } from '@helios/transport/testing'

class Greet {
  constructor(readonly who: string) {}
}

export async function actors(): Promise<string> {
  const remote: RemoteOptions = { transport: 'tls', host: '127.0.0.1', port: 0, tls: { ...devCertificates(), requestCert: true } }
  const system = await ActorSystem.create('A', { remote: { ...remote, registry: new MessageRegistry().register(Greet, 'app.Greet') } })
  const behavior: Behavior = (message, ctx) => {
    if (message instanceof Terminated) return
    ctx.sender?.tell(message, ctx.self)
  }
  const echo: ActorRef = system.actorOf(behavior, 'echo')
  const reply = await system.ask<string>(echo, new Greet('bob'), { timeoutMs: 1000 })
  await system.terminate()
  return reply
}

export async function transport(): Promise<number | undefined> {
  const server = await new ServerBootstrap()
    .transport('tcp')
    .childHandler((ch: Channel) => {
      ch.pipeline
        .addLast('frames', new LengthFieldBasedFrameDecoder({ maxFrameLength: 65536, initialBytesToStrip: 4 }))
        .addLast('prepender', new LengthFieldPrepender({ lengthFieldLength: 4 }))
        .addLast('echo', { channelRead: (ctx, frame) => ctx.writeAndFlush(frame) })
    })
    .bind(0, '127.0.0.1')
  const port = server.localAddress?.port
  await server.close()
  return port
}

export function testing(): string {
  const clock = new ManualClock()
  clock.advance(10)
  const channel = new EmbeddedChannel()
  channel.writeInbound(Buffer.from('x'))
  const authority = DevCertificateAuthority.create({ days: 1 })
  return authority.issue({ hosts: ['localhost'], usage: ['serverAuth'] }).cert
}

export function codec(): Pdu {
  const c = new Codec({ registry: new MessageRegistry(), localUid: 1n })
  return c.decode(c.encode({ type: 'heartbeat' }))
}
