import type { ExecutionContext } from 'ava'
import type {
  Channel,
  ChannelHandler,
  ChannelHandlerContext,
  Datagram,
  ServerChannel,
  ServerBootstrapOptions,
  TransportKind,
} from '../../src/index.js'
import { LengthFieldBasedFrameDecoder, LengthFieldPrepender, ServerBootstrap } from '../../src/index.js'

export const HOST = '127.0.0.1'

/** Adds the wire framing (u32 BE length, payload) to a pipeline: decoder, prepender. */
export function addFraming(ch: Channel, maxFrameLength = 1 << 20): void {
  ch.pipeline
    .addLast('frameDecoder', new LengthFieldBasedFrameDecoder({ maxFrameLength, lengthFieldLength: 4, initialBytesToStrip: 4 }))
    .addLast('framePrepender', new LengthFieldPrepender({ lengthFieldLength: 4 }))
}

/** Writes every inbound message back, flushing at the end of each read batch. */
export const echoHandler: ChannelHandler = {
  sharable: true,
  channelRead(ctx: ChannelHandlerContext, msg: unknown) {
    ctx.write(msg)
  },
  channelReadComplete(ctx: ChannelHandlerContext) {
    ctx.flush()
  },
}

/** Echoes datagrams back to their sender. */
export const datagramEchoHandler: ChannelHandler = {
  sharable: true,
  channelRead(ctx: ChannelHandlerContext, msg: unknown) {
    const d = msg as Datagram
    ctx.write({ data: d.data, remote: d.remote } satisfies Datagram)
  },
  channelReadComplete(ctx: ChannelHandlerContext) {
    ctx.flush()
  },
}

/** Collects inbound messages and errors of a channel; `next(n)` resolves once n messages arrived. */
export class Collector implements ChannelHandler {
  readonly messages: unknown[] = []
  readonly errors: Error[] = []
  readonly writability: boolean[] = []
  private waiting: { n: number; resolve: () => void } | undefined

  channelRead(_ctx: ChannelHandlerContext, msg: unknown): void {
    this.messages.push(msg)
    if (this.waiting !== undefined && this.messages.length >= this.waiting.n) {
      const w = this.waiting
      this.waiting = undefined
      w.resolve()
    }
  }
  exceptionCaught(_ctx: ChannelHandlerContext, error: Error): void {
    this.errors.push(error)
  }
  channelWritabilityChanged(ctx: ChannelHandlerContext): void {
    this.writability.push(ctx.channel.isWritable)
  }

  /** Resolves once at least `n` messages arrived in total. */
  next(n: number): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve()
    return new Promise((resolve) => {
      this.waiting = { n, resolve }
    })
  }
}

/** A framed echo server that closes itself in the test's teardown; `errors` collects what it reported. */
export async function echoServer(
  t: ExecutionContext,
  kind: TransportKind,
  options: ServerBootstrapOptions = {},
  extra?: (ch: Channel) => void,
): Promise<{ server: ServerChannel; port: number; errors: Error[]; children: Channel[] }> {
  const errors: Error[] = []
  const children: Channel[] = []
  const server = await new ServerBootstrap()
    .transport(kind)
    .options({
      ...options,
      onError: (e) => {
        errors.push(e)
      },
    })
    .childHandler((ch) => {
      children.push(ch)
      if (kind === 'udp') ch.pipeline.addLast('echo', datagramEchoHandler)
      else {
        addFraming(ch)
        extra?.(ch)
        ch.pipeline.addLast('echo', echoHandler)
      }
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  return { server, port: server.localAddress!.port, errors, children }
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function randomFrames(count: number, maxSize: number, seed = 1): Buffer[] {
  let x = seed >>> 0 || 1
  const next = (): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
  const frames: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const b = Buffer.allocUnsafe(next() % (maxSize + 1))
    for (let j = 0; j < b.length; j++) b[j] = next() & 0xff
    frames.push(b)
  }
  return frames
}

/** Resolves when `predicate` holds, polling on the event loop (for conditions no event announces). */
export async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}
