/**
 * Echo demo of @helios/transport: an echo server and a client over TCP, TLS and UDP, in one
 * process. TCP and TLS frames are length-prefixed (u32 BE); the TLS certificate is a self-signed
 * one made in-process at run time (@helios/transport/testing). Prints what was exchanged and exits 0.
 *
 *   npx tsx examples/echo-tcp-tls-udp.ts
 */
import type { Channel, ChannelHandler, ChannelHandlerContext, Datagram, TransportKind } from '@helios/transport'
import { Bootstrap, LengthFieldBasedFrameDecoder, LengthFieldPrepender, ServerBootstrap } from '@helios/transport'
import { selfSignedCertificate } from '@helios/transport/testing'

const HOST = '127.0.0.1'
const MESSAGES = ['hello', 'helios', 'goodbye']

function framing(ch: Channel): void {
  ch.pipeline
    .addLast('frameDecoder', new LengthFieldBasedFrameDecoder({ maxFrameLength: 64 * 1024, lengthFieldLength: 4, initialBytesToStrip: 4 }))
    .addLast('framePrepender', new LengthFieldPrepender({ lengthFieldLength: 4 }))
}

/** Server side: writes every frame (or datagram, to its sender) back. */
function echo(kind: TransportKind): ChannelHandler {
  return {
    channelRead(ctx: ChannelHandlerContext, msg: unknown) {
      if (kind === 'udp') {
        const d = msg as Datagram
        console.log(`  [${kind} server] got "${text(d.data)}" from ${d.remote.address}:${d.remote.port}, echoing`)
        ctx.write({ data: d.data, remote: d.remote } satisfies Datagram)
      } else {
        console.log(`  [${kind} server] got "${text(msg as Uint8Array)}", echoing`)
        ctx.write(msg)
      }
    },
    channelReadComplete(ctx: ChannelHandlerContext) {
      ctx.flush()
    },
  }
}

/** Client side: resolves with the replies once `count` arrived. */
function replies(kind: TransportKind, count: number): { handler: ChannelHandler; all: Promise<string[]> } {
  const got: string[] = []
  let done!: (v: string[]) => void
  const all = new Promise<string[]>((resolve) => {
    done = resolve
  })
  const handler: ChannelHandler = {
    channelRead(_ctx: ChannelHandlerContext, msg: unknown) {
      const data = kind === 'udp' ? (msg as Datagram).data : (msg as Uint8Array)
      got.push(text(data))
      console.log(`  [${kind} client] received "${text(data)}"`)
      if (got.length === count) done(got)
    },
    exceptionCaught(_ctx: ChannelHandlerContext, error: Error) {
      console.error(`  [${kind} client] error`, error)
    },
  }
  return { handler, all }
}

function text(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
}

async function demo(kind: TransportKind, tls?: { key: string; cert: string }): Promise<boolean> {
  console.log(`${kind.toUpperCase()}:`)
  const server = await new ServerBootstrap()
    .transport(kind)
    .options(tls === undefined ? {} : { tls: { key: tls.key, cert: tls.cert } })
    .childHandler((ch) => {
      if (kind !== 'udp') framing(ch)
      ch.pipeline.addLast('echo', echo(kind))
    })
    .bind(0, HOST)
  const port = server.localAddress!.port
  console.log(`  [${kind} server] listening on ${HOST}:${port}`)
  const { handler, all } = replies(kind, MESSAGES.length)
  const client = await new Bootstrap()
    .transport(kind)
    // The client trusts exactly the demo's self-signed certificate: verification stays on.
    .options(tls === undefined ? {} : { tls: { ca: tls.cert } })
    .handler((ch) => {
      if (kind !== 'udp') framing(ch)
      ch.pipeline.addLast('replies', handler)
    })
    .connect(port, HOST)
  console.log(`  [${kind} client] connected from ${client.localAddress?.address}:${client.localAddress?.port}`)
  for (const m of MESSAGES) {
    console.log(`  [${kind} client] sending "${m}"`)
    client.write(Buffer.from(m))
  }
  client.flush()
  const got = await Promise.race([
    all,
    new Promise<string[]>((resolve) => {
      setTimeout(() => resolve([]), 5000).unref()
    }),
  ])
  await client.close()
  await server.close()
  const ok = got.length === MESSAGES.length && got.every((g, i) => g === MESSAGES[i])
  console.log(`  ${ok ? 'ok' : 'FAILED'}: sent ${JSON.stringify(MESSAGES)}, received ${JSON.stringify(got)}`)
  return ok
}

const results = [await demo('tcp'), await demo('tls', selfSignedCertificate({ days: 1 })), await demo('udp')]
if (results.every(Boolean)) console.log('echo demo: TCP, TLS and UDP all echoed every message')
else {
  console.error('echo demo: some messages were not echoed')
  process.exitCode = 1
}
