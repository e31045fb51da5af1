import test from 'ava'
import * as net from 'node:net'
import type { Channel, ChannelHandlerContext, Datagram } from '../src/index.js'
import { Bootstrap, DatagramChannel, ServerBootstrap, SocketChannel, UnsupportedMessageError } from '../src/index.js'
import { ManualClock } from '../src/testing.js'
import { testCerts } from './helpers/certs.js'
import { Collector, HOST, addFraming, echoServer, randomFrames, until } from './helpers/net.js'

async function framedClient(kind: 'tcp' | 'tls', port: number, collector: Collector, tlsOpts = {}): Promise<Channel> {
  const ch = await new Bootstrap()
    .transport(kind)
    .options(kind === 'tls' ? { tls: { ca: testCerts().ca, ...tlsOpts } } : {})
    .handler((c) => {
      addFraming(c)
      c.pipeline.addLast('collector', collector)
    })
    .connect(port, HOST)
  return ch
}

async function echoFrames(t: import('ava').ExecutionContext, kind: 'tcp' | 'tls'): Promise<void> {
  const certs = testCerts()
  const { port, server } = await echoServer(t, kind, kind === 'tls' ? { tls: { key: certs.serverKey, cert: certs.serverCert } } : {})
  const collector = new Collector()
  const ch = await framedClient(kind, port, collector)
  t.is(ch.kind, kind)
  t.true(ch.isActive)
  t.is(ch.remoteAddress?.port, port)
  const frames = randomFrames(10_000, 2048, kind === 'tcp' ? 7 : 11)
  for (let i = 0; i < frames.length; i++) {
    ch.write(frames[i])
    if (i % 100 === 99) ch.flush()
  }
  ch.flush()
  await collector.next(frames.length)
  t.is(collector.messages.length, frames.length)
  let mismatches = 0
  for (let i = 0; i < frames.length; i++) {
    if (Buffer.compare(collector.messages[i] as Uint8Array, frames[i]!) !== 0) mismatches++
  }
  t.is(mismatches, 0)
  t.is(server.children.size, 1)
  await ch.close()
  t.false(ch.isActive)
  await until(() => server.children.size === 0)
  t.deepEqual(collector.errors, [])
}

test('a TCP channel echoes 10,000 length-prefixed frames byte for byte', (t) => echoFrames(t, 'tcp'))

test('a TLS channel echoes 10,000 length-prefixed frames byte for byte', (t) => echoFrames(t, 'tls'))

test('a UDP channel echoes 10,000 datagrams byte for byte', async (t) => {
  const { port } = await echoServer(t, 'udp')
  const collector = new Collector()
  const ch = await new Bootstrap()
    .transport('udp')
    .handler((c) => c.pipeline.addLast('collector', collector))
    .connect(port, HOST)
  t.teardown(() => ch.close())
  t.is(ch.kind, 'udp')
  const frames = randomFrames(10_000, 1200, 13)
  // A window keeps the loopback receive buffers from overflowing: UDP drops what does not fit.
  const window = 64
  let sent = 0
  while (sent < frames.length) {
    const upTo = Math.min(frames.length, collector.messages.length + window)
    while (sent < upTo) ch.write(frames[sent++])
    ch.flush()
    await collector.next(Math.min(frames.length, collector.messages.length + 1))
  }
  await collector.next(frames.length)
  let mismatches = 0
  for (let i = 0; i < frames.length; i++) {
    const d = collector.messages[i] as Datagram
    if (d.remote.port !== port || Buffer.compare(d.data, frames[i]!) !== 0) mismatches++
  }
  t.is(mismatches, 0)
})

test('an unconnected UDP channel reads and writes datagrams with their remote address', async (t) => {
  const { port } = await echoServer(t, 'udp')
  const collector = new Collector()
  const ch = await new Bootstrap()
    .transport('udp')
    .handler((c) => c.pipeline.addLast('collector', collector))
    .bind(0, HOST)
  t.teardown(() => ch.close())
  t.true(ch instanceof DatagramChannel)
  const errors: Error[] = []
  ch.write(new Uint8Array([1]), (e) => {
    if (e) errors.push(e)
  })
  t.true(errors[0] instanceof UnsupportedMessageError)
  ch.writeAndFlush({ data: Buffer.from('ping'), remote: { address: HOST, port } } satisfies Datagram)
  await collector.next(1)
  const d = collector.messages[0] as Datagram
  t.is(Buffer.from(d.data).toString(), 'ping')
  t.deepEqual([d.remote.address, d.remote.port], [HOST, port])
})

test('a TCP channel refuses to write anything but a Uint8Array', async (t) => {
  const { port } = await echoServer(t, 'tcp')
  const ch = await new Bootstrap().connect(port, HOST)
  const errors: Error[] = []
  ch.write('text', (e) => {
    if (e) errors.push(e)
  })
  t.true(errors[0] instanceof UnsupportedMessageError)
  t.is((errors[0] as UnsupportedMessageError).code, 'ERR_UNSUPPORTED_MESSAGE')
  await ch.close()
})

test('a channel turns unwritable under a slow reader and writable again once the reader resumes', async (t) => {
  let serverChild: Channel | undefined
  let received = 0
  const server = await new ServerBootstrap()
    .childHandler((ch) => {
      serverChild = ch
      ch.pipeline.addLast('sink', {
        channelActive(ctx: ChannelHandlerContext) {
          ctx.channel.suspendRead()
        },
        channelRead(_ctx: ChannelHandlerContext, msg: unknown) {
          received += (msg as Uint8Array).byteLength
        },
      })
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  const collector = new Collector()
  const ch = await new Bootstrap()
    .option('writeBufferWaterMark', { low: 64 * 1024, high: 256 * 1024 })
    .handler((c) => c.pipeline.addLast('collector', collector))
    .connect(server.localAddress!.port, HOST)
  const chunk = Buffer.alloc(64 * 1024, 7)
  let written = 0
  while (ch.isWritable && written < 512 * 1024 * 1024) {
    ch.writeAndFlush(chunk)
    written += chunk.length
  }
  t.false(ch.isWritable)
  t.deepEqual(collector.writability, [false])
  t.true((ch as SocketChannel).socket.writableLength > 0)
  await until(() => serverChild !== undefined)
  serverChild!.resumeRead()
  await until(() => collector.writability.length === 2)
  t.deepEqual(collector.writability, [false, true])
  t.true(ch.isWritable)
  await until(() => received === written, 10_000)
  t.is(received, written)
  await ch.close()
})

test('a slow async channelRead pauses the socket and keeps every frame in order', async (t) => {
  const seen: number[] = []
  let sawPaused = false
  const server = await new ServerBootstrap()
    .childHandler((ch) => {
      addFraming(ch)
      ch.pipeline.addLast('slow', {
        async channelRead(ctx: ChannelHandlerContext, msg: unknown) {
          const s = (ctx.channel as SocketChannel).socket
          if (s.isPaused()) sawPaused = true
          const n = Buffer.from(msg as Uint8Array).readUInt32BE(0)
          if (n % 100 === 0) await new Promise((r) => setTimeout(r, 2))
          else await Promise.resolve()
          seen.push(n)
        },
      })
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  const ch = await new Bootstrap().handler((c) => addFraming(c)).connect(server.localAddress!.port, HOST)
  const count = 3000
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(256)
    b.writeUInt32BE(i, 0)
    ch.write(b)
  }
  ch.flush()
  await until(() => seen.length === count, 10_000)
  t.true(sawPaused)
  t.deepEqual(
    seen,
    Array.from({ length: count }, (_, i) => i),
  )
  await ch.close()
})

test('an oversized length header closes that connection with ERR_FRAME_TOO_LONG and the server serves others', async (t) => {
  const { port, children } = await echoServer(t, 'tcp')
  const good = new Collector()
  const goodCh = await framedClient('tcp', port, good)
  const bad = await new Bootstrap().connect(port, HOST)
  await until(() => children.length === 2)
  const badChild = children[1]!
  bad.writeAndFlush(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]))
  await badChild.closed
  t.is((badChild.closeReason as { code?: string } | undefined)?.code, 'ERR_FRAME_TOO_LONG')
  await bad.closed
  goodCh.writeAndFlush(Buffer.from('still here'))
  await good.next(1)
  t.is(Buffer.from(good.messages[0] as Uint8Array).toString(), 'still here')
  await goodCh.close()
})

test('garbage bytes never crash a TCP or TLS server', async (t) => {
  const certs = testCerts()
  for (const kind of ['tcp', 'tls'] as const) {
    const { port, errors } = await echoServer(t, kind, kind === 'tls' ? { tls: { key: certs.serverKey, cert: certs.serverCert } } : {})
    const garbage = randomFrames(20, 4096, kind === 'tcp' ? 3 : 5)
    for (const g of garbage) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, HOST, () => {
          s.end(g)
        })
        s.on('error', () => {})
        s.on('close', () => resolve())
        s.resume()
      })
    }
    const c = new Collector()
    const ch = await framedClient(kind, port, c)
    ch.writeAndFlush(Buffer.from('ok'))
    await c.next(1)
    t.is(Buffer.from(c.messages[0] as Uint8Array).toString(), 'ok')
    await ch.close()
    if (kind === 'tls') t.true(errors.length > 0 && errors.every((e) => (e as { code?: string }).code === 'ERR_TLS_HANDSHAKE'))
  }
})

test('closing a server closes its open children', async (t) => {
  const { server, port } = await echoServer(t, 'tcp')
  const a = await new Bootstrap().connect(port, HOST)
  const b = await new Bootstrap().connect(port, HOST)
  await until(() => server.children.size === 2)
  await server.close()
  t.is(server.children.size, 0)
  await Promise.all([a.closed, b.closed])
  t.false(a.isActive)
  t.false(b.isActive)
})

test('a connection reset by the peer fires exceptionCaught with a SocketError and closes the channel', async (t) => {
  let peer: net.Socket | undefined
  const raw = net.createServer((s) => {
    peer = s
  })
  await new Promise<void>((r) => {
    raw.listen(0, HOST, r)
  })
  t.teardown(
    () =>
      new Promise<void>((r) => {
        raw.close(() => r())
      }),
  )
  const collector = new Collector()
  const ch = await new Bootstrap().handler((c) => c.pipeline.addLast('c', collector)).connect((raw.address() as net.AddressInfo).port, HOST)
  await until(() => peer !== undefined)
  peer!.resetAndDestroy()
  await ch.closed
  t.is((collector.errors[0] as { code?: string } | undefined)?.code, 'ERR_SOCKET')
  t.is((collector.errors[0] as { syscallCode?: string } | undefined)?.syscallCode, 'ECONNRESET')
  t.is(ch.closeReason, collector.errors[0])
  t.false(ch.isActive)
})

test('a graceful close to a peer that never reads gives up after the linger time', async (t) => {
  const server = await new ServerBootstrap()
    .childHandler((ch) => {
      ch.pipeline.addLast('stall', {
        channelActive(ctx: ChannelHandlerContext) {
          ctx.channel.suspendRead()
        },
      })
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  const clock = new ManualClock()
  const ch = await new Bootstrap().option('clock', clock).connect(server.localAddress!.port, HOST)
  const chunk = Buffer.alloc(1 << 20)
  for (let i = 0; i < 64 && (ch as SocketChannel).socket.writableLength === 0; i++) ch.writeAndFlush(chunk)
  t.true((ch as SocketChannel).socket.writableLength > 0)
  const closing = ch.close()
  t.true((ch as SocketChannel).socket.writable === false)
  clock.advance(10_000)
  await closing
  t.false(ch.isActive)
})

/** A connected pair on 127.0.0.1: the accepted end (not yet wrapped) and the client end. */
async function socketPair(t: import('ava').ExecutionContext): Promise<{ accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  t.teardown(() => server.close())
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect((server.address() as net.AddressInfo).port, HOST)
  client.on('error', () => {})
  t.teardown(() => client.destroy())
  return { accepted: await accepted, client }
}

// Serial (ava runs serial tests before the others of the file): it records every setNoDelay of the process.
test.serial(
  'an accepted connection gets TCP_NODELAY before its first write, and one closed before it writes never pays for it',
  async (t) => {
    const calls: string[] = []
    const proto = net.Socket.prototype
    const { setNoDelay, write } = proto
    proto.setNoDelay = function (this: net.Socket, on?: boolean) {
      calls.push(`noDelay ${on}`)
      return setNoDelay.call(this, on)
    }
    proto.write = function (this: net.Socket, ...args: unknown[]) {
      calls.push('write')
      return (write as (...a: unknown[]) => boolean).apply(this, args)
    } as typeof proto.write
    t.teardown(() => {
      proto.setNoDelay = setNoDelay
      proto.write = write
    })
    const refusing = await new ServerBootstrap()
      .childHandler((ch) => {
        ch.pipeline.addLast('refuse', {
          channelActive(ctx: ChannelHandlerContext) {
            void ctx.channel.close(new Error('refused'))
          },
        })
      })
      .bind(0, HOST)
    t.teardown(() => refusing.close())
    const client = net.connect(refusing.localAddress?.port as number, HOST)
    client.on('error', () => {})
    await new Promise((resolve) => client.once('close', resolve))
    t.deepEqual(calls, [], 'a refused connection: no setsockopt')

    const greeting = await new ServerBootstrap()
      .childHandler((ch) => {
        ch.pipeline.addLast('greet', {
          channelActive(ctx: ChannelHandlerContext) {
            ctx.writeAndFlush(Buffer.from('one'))
            ctx.writeAndFlush(Buffer.from('two'))
            ctx.fireChannelActive()
          },
        })
      })
      .bind(0, HOST)
    t.teardown(() => greeting.close())
    const got: Buffer[] = []
    const reader = net.connect(greeting.localAddress?.port as number, HOST)
    reader.on('data', (d: Buffer) => got.push(d))
    await until(() => Buffer.concat(got).toString() === 'onetwo')
    reader.destroy()
    t.deepEqual(calls, ['noDelay true', 'write', 'write'])
  },
)

test('the local address of a channel that survived channelActive is known after it closed', async (t) => {
  const { accepted } = await socketPair(t)
  const port = accepted.localPort
  const ch = new SocketChannel(accepted, 'tcp')
  ch.start()
  await ch.close()
  t.is(ch.localAddress?.port, port)
  t.is(ch.localAddress?.address, HOST)
})
