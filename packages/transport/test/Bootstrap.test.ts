import test from 'ava'
import type { ExecutionContext } from 'ava'
import * as net from 'node:net'
import type { ConnectionOptions, TlsOptions } from 'node:tls'
import type { BootstrapOptions, Channel, ChannelHandlerContext, ServerBootstrapOptions, TransportKind } from '../src/index.js'
import { BindError, Bootstrap, ServerBootstrap, TransportError } from '../src/index.js'
import { ManualClock } from '../src/testing.js'
import { testCerts } from './helpers/certs.js'
import { Collector, HOST, addFraming, echoServer, until } from './helpers/net.js'

const codeOf = (e: unknown): string | undefined => (e as { code?: string } | undefined)?.code

function serverTls(): TlsOptions {
  const c = testCerts()
  return { key: c.serverKey, cert: c.serverCert }
}

function mutualTls(): TlsOptions {
  return { ...serverTls(), ca: testCerts().ca, requestCert: true }
}

function connect(kind: TransportKind, port: number, options: BootstrapOptions = {}): Promise<Channel> {
  return new Bootstrap()
    .transport(kind)
    .options(options)
    .handler((ch) => addFraming(ch))
    .connect(port, HOST)
}

/** Asserts a rejected connect: ERR_TLS_HANDSHAKE with a cause; the server reported it and kept no child. */
async function rejectsHandshake(
  t: ExecutionContext,
  serverKind: TransportKind,
  serverOptions: ServerBootstrapOptions,
  clientOptions: BootstrapOptions,
  serverReports = true,
): Promise<void> {
  const { server, port, errors } = await echoServer(t, serverKind, serverOptions)
  const err = await t.throwsAsync(connect('tls', port, clientOptions))
  t.is(codeOf(err), 'ERR_TLS_HANDSHAKE')
  t.true(err instanceof TransportError)
  t.truthy(err?.cause)
  if (serverReports) {
    await until(() => errors.length > 0)
    t.is(codeOf(errors[0]), 'ERR_TLS_HANDSHAKE')
    t.truthy(errors[0]!.cause)
    t.is(server.handshakeFailures, 1)
  }
  await until(() => server.children.size === 0)
  t.is(server.children.size, 0)
}

test('connect rejects with ERR_TLS_HANDSHAKE when the server certificate is untrusted', async (t) => {
  const c = testCerts()
  await rejectsHandshake(t, 'tls', { tls: { key: c.untrustedKey, cert: c.untrustedCert } }, { tls: { ca: c.ca } })
})

test('connect rejects with ERR_TLS_HANDSHAKE when the certificate names another host', async (t) => {
  await rejectsHandshake(t, 'tls', { tls: serverTls() }, { tls: { ca: testCerts().ca, servername: 'wrong.example' } })
})

test('verification is on by default: a client without the CA refuses the server', async (t) => {
  await rejectsHandshake(t, 'tls', { tls: serverTls() }, {})
})

test('connect rejects with ERR_TLS_HANDSHAKE when the port speaks plaintext', async (t) => {
  // The plaintext server sees a ClientHello as an oversized frame and closes; it reports no TLS error.
  await rejectsHandshake(t, 'tcp', {}, { tls: { ca: testCerts().ca } }, false)
})

test('mutual TLS refuses a client without a certificate on both sides', async (t) => {
  await rejectsHandshake(t, 'tls', { tls: mutualTls() }, { tls: { ca: testCerts().ca } })
})

test('mutual TLS refuses a client whose certificate is not trusted', async (t) => {
  const c = testCerts()
  await rejectsHandshake(t, 'tls', { tls: mutualTls() }, { tls: { ca: c.ca, key: c.untrustedKey, cert: c.untrustedCert } })
})

test('mutual TLS accepts a client with a trusted certificate', async (t) => {
  const c = testCerts()
  const { server, port } = await echoServer(t, 'tls', { tls: mutualTls() })
  const collector = new Collector()
  const ch = await new Bootstrap()
    .transport('tls')
    .options({ tls: { ca: c.ca, key: c.clientKey, cert: c.clientCert } })
    .handler((x) => {
      addFraming(x)
      x.pipeline.addLast('c', collector)
    })
    .connect(port, 'localhost')
  ch.writeAndFlush(Buffer.from('mutual'))
  await collector.next(1)
  t.is(Buffer.from(collector.messages[0] as Uint8Array).toString(), 'mutual')
  t.is(server.handshakeFailures, 0)
  await ch.close()
})

test('a plaintext client on a TLS port is reported by the server and gets no channel', async (t) => {
  const { server, port, errors } = await echoServer(t, 'tls', { tls: serverTls() })
  const ch = await connect('tcp', port)
  ch.writeAndFlush(Buffer.from('hello in the clear'))
  await ch.closed
  await until(() => errors.length > 0)
  t.is(codeOf(errors[0]), 'ERR_TLS_HANDSHAKE')
  t.is(codeOf(errors[0]!.cause), 'ERR_SSL_WRONG_VERSION_NUMBER')
  t.is(server.children.size, 0)
  t.is(server.accepted, 0)
})

test('a TLS server greets first from channelActive and the client receives it', async (t) => {
  const c = testCerts()
  const server = await new ServerBootstrap()
    .transport('tls')
    .option('tls', serverTls())
    .childHandler((ch) => {
      addFraming(ch)
      ch.pipeline.addLast('greeter', {
        channelActive(ctx: ChannelHandlerContext) {
          ctx.writeAndFlush(Buffer.from('welcome'))
        },
      })
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  const collector = new Collector()
  const ch = await new Bootstrap()
    .transport('tls')
    .option('tls', { ca: c.ca })
    .handler((x) => {
      addFraming(x)
      x.pipeline.addLast('c', collector)
    })
    .connect(server.localAddress!.port, HOST)
  await collector.next(1)
  t.is(Buffer.from(collector.messages[0] as Uint8Array).toString(), 'welcome')
  await ch.close()
})

test('a TLS handshake that does not finish in time is reported and its socket destroyed', async (t) => {
  const clock = new ManualClock()
  const { server, port, errors } = await echoServer(t, 'tls', { tls: serverTls(), clock, handshakeTimeoutMs: 5000 })
  const raw = net.connect(port, HOST)
  raw.on('error', () => {})
  const closed = new Promise((r) => raw.once('close', r))
  await new Promise((r) => raw.once('connect', r))
  await until(() => clock.pendingTimers > 0)
  clock.advance(5000)
  await closed
  t.is(codeOf(errors[0]), 'ERR_TLS_HANDSHAKE')
  t.is(codeOf(errors[0]!.cause), 'ERR_READ_TIMEOUT')
  t.is(server.children.size, 0)
})

/** A raw TCP connection from `from` that says nothing (a TLS client that never sends its ClientHello). */
async function silent(t: ExecutionContext, port: number, from: string): Promise<{ socket: net.Socket; gone: Promise<void> }> {
  const socket = net.connect({ port, host: HOST, localAddress: from })
  socket.on('error', () => {})
  socket.resume()
  const gone = new Promise<void>((r) => socket.once('close', () => r()))
  t.teardown(() => socket.destroy())
  await new Promise((r) => socket.once('connect', r))
  return { socket, gone }
}
const isOpen = (s: { socket: net.Socket }): boolean => !(s.socket.destroyed || s.socket.readableEnded)

test('connections beyond maxPendingHandshakes are refused and reported', async (t) => {
  const { port, errors } = await echoServer(t, 'tls', { tls: serverTls(), maxPendingHandshakes: 2, maxPendingHandshakesPerSource: 2 })
  const sockets = [0, 1, 2].map(() => {
    const s = net.connect(port, HOST)
    s.on('error', () => {})
    return s
  })
  t.teardown(() => {
    for (const s of sockets) s.destroy()
  })
  await until(() => errors.length > 0)
  t.is(codeOf(errors[0]), 'ERR_TLS_HANDSHAKE')
  t.is(codeOf(errors[0]!.cause), 'ERR_TOO_MANY_HANDSHAKES')
  await until(() => sockets.some((s) => s.destroyed || s.readableEnded))
  t.is(errors.length, 1)
})

test('by default 256 TLS handshakes may be pending, 128 from one source, and a newcomer from another source takes the oldest slot of the largest holder', async (t) => {
  const { port, errors } = await echoServer(t, 'tls', { tls: serverTls() })
  const fromA = await Promise.all(Array.from({ length: 128 }, () => silent(t, port, '127.0.0.2')))
  // The 129th from 127.0.0.2 is refused at once, saying why.
  const refused = await silent(t, port, '127.0.0.2')
  await refused.gone
  await until(() => errors.length === 1)
  t.regex(errors[0]!.message, /refused: too many pending TLS handshakes/)
  t.regex((errors[0]!.cause as Error).message, /^128 TLS handshakes pending from 127\.0\.0\.2, maxPendingHandshakesPerSource is 128$/)
  const fromB = await Promise.all(Array.from({ length: 128 }, () => silent(t, port, '127.0.0.3')))
  await new Promise((r) => setTimeout(r, 100))
  t.is(errors.length, 1, 'all 256 pending')
  t.true([...fromA, ...fromB].every(isOpen))
  // All 256 taken: 127.0.0.4 takes the oldest slot of 127.0.0.2 (first of the largest holders).
  const newcomer = await silent(t, port, '127.0.0.4')
  await fromA[0]!.gone
  await until(() => errors.length === 2)
  t.regex(
    (errors[1]!.cause as Error).message,
    /^all 256 TLS handshake slots taken, 127\.0\.0\.2 held the most: its oldest made room for 127\.0\.0\.4$/,
  )
  t.true(isOpen(newcomer))
  t.true(fromA.slice(1).every(isOpen))
})

test('a TLS client from another source completes its handshake while one source holds every slot', async (t) => {
  const { port, errors } = await echoServer(t, 'tls', { tls: serverTls(), maxPendingHandshakes: 8, maxPendingHandshakesPerSource: 8 })
  const hog = await Promise.all(Array.from({ length: 8 }, () => silent(t, port, '127.0.0.2')))
  const again = await silent(t, port, '127.0.0.2')
  await again.gone // refused: its source holds all 8
  const ch = await new Bootstrap()
    .transport('tls')
    // node:tls passes localAddress on to the TCP connect (its ConnectionOptions type omits it).
    .options({ tls: { ca: testCerts().ca, localAddress: '127.0.0.3' } as ConnectionOptions })
    .handler((c) => addFraming(c))
    .connect(port, HOST)
  t.true(ch.isActive)
  t.is(ch.localAddress?.address, '127.0.0.3')
  await ch.close()
  t.is(hog.filter((s) => !isOpen(s)).length, 1, 'one of the hog lost its slot')
  t.is(errors.length, 2)
})

test('connect rejects with ERR_CONNECT_REFUSED when nothing listens', async (t) => {
  const probe = net.createServer()
  await new Promise<void>((r) => {
    probe.listen(0, HOST, r)
  })
  const port = (probe.address() as net.AddressInfo).port
  await new Promise<void>((r) => {
    probe.close(() => r())
  })
  for (const kind of ['tcp', 'tls'] as const) {
    const err = await t.throwsAsync(connect(kind, port))
    t.is(codeOf(err), 'ERR_CONNECT_REFUSED')
    t.is(codeOf(err?.cause), 'ECONNREFUSED')
  }
})

test('connect rejects with ERR_CONNECT_TIMEOUT when the connect timeout elapses first', async (t) => {
  const { server, port } = await echoServer(t, 'tcp')
  const clock = new ManualClock()
  const attempt = connect('tcp', port, { clock, connectTimeoutMs: 3000 })
  clock.advance(3000)
  const err = await t.throwsAsync(attempt)
  t.is(codeOf(err), 'ERR_CONNECT_TIMEOUT')
  t.truthy(err?.cause)
  await until(() => server.children.size === 0)
  t.is(server.children.size, 0)
})

test('a TLS client rejects with ERR_TLS_HANDSHAKE when the server never answers the handshake', async (t) => {
  let accepted = 0
  const silent = net.createServer((s) => {
    accepted++
    s.on('error', () => {})
    t.teardown(() => s.destroy())
  })
  await new Promise<void>((r) => {
    silent.listen(0, HOST, r)
  })
  t.teardown(
    () =>
      new Promise<void>((r) => {
        silent.close(() => r())
      }),
  )
  const clock = new ManualClock()
  const attempt = connect('tls', (silent.address() as net.AddressInfo).port, {
    clock,
    handshakeTimeoutMs: 2000,
    tls: { ca: testCerts().ca },
  })
  await until(() => accepted === 1)
  // Let the client see its TCP connect, which swaps the connect timer for the handshake timer.
  await new Promise((r) => setTimeout(r, 20))
  clock.advance(2000)
  const err = await t.throwsAsync(attempt)
  t.is(codeOf(err), 'ERR_TLS_HANDSHAKE')
  t.is(codeOf(err?.cause), 'ERR_READ_TIMEOUT')
})

test('bind rejects with ERR_BIND when the address is in use', async (t) => {
  const { port } = await echoServer(t, 'tcp')
  const err = await t.throwsAsync(new ServerBootstrap().bind(port, HOST))
  t.true(err instanceof BindError)
  t.is(codeOf(err), 'ERR_BIND')
  t.is(codeOf(err?.cause), 'EADDRINUSE')
  const { port: udpPort } = await echoServer(t, 'udp')
  const udpErr = await t.throwsAsync(new ServerBootstrap().transport('udp').bind(udpPort, HOST))
  t.is(codeOf(udpErr), 'ERR_BIND')
})

test('options reach the sockets: noDelay, keepAlive and the write buffer watermarks', async (t) => {
  const { port } = await echoServer(t, 'tcp')
  const ch = await connect('tcp', port, { noDelay: true, keepAlive: true, writeBufferWaterMark: { low: 10, high: 20 } })
  t.is(ch.bytesBeforeUnwritable, 20)
  ch.write(Buffer.alloc(30))
  t.false(ch.isWritable)
  ch.flush()
  await until(() => ch.isWritable)
  await ch.close()
  t.pass()
})
