import test from 'ava'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { ActorSystem, AskTimeoutError, Terminated } from '@helios/actors'
import { proxiedPair, spawnProxiedNode, startFaultProxy, type FaultProxy } from './support/faultProxy.js'

// ---- plain sockets -----------------------------------------------------------------------

/** What one socket received, with a wait on the byte count (event-driven). */
class Received {
  readonly chunks: Buffer[] = []
  bytes = 0
  private waiters: { n: number; resolve: () => void }[] = []

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d)
      this.bytes += d.length
      this.waiters = this.waiters.filter((w) => {
        if (this.bytes < w.n) return true
        w.resolve()
        return false
      })
    })
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks)
  }

  atLeast(n: number): Promise<void> {
    if (this.bytes >= n) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ n, resolve }))
  }
}

/** A TCP server that hands out what each accepted connection receives. */
async function target(
  t: import('ava').ExecutionContext,
): Promise<{ port: number; server: Server; accepted: Received[]; next: () => Promise<Received> }> {
  const accepted: Received[] = []
  const waiting: ((r: Received) => void)[] = []
  const server = createServer((s) => {
    s.on('error', () => {})
    const r = new Received(s)
    accepted.push(r)
    waiting.shift()?.(r)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const r of accepted) r.socket.destroy()
    server.close()
  })
  let taken = 0
  return {
    port: (server.address() as { port: number }).port,
    server,
    accepted,
    next: () =>
      taken < accepted.length
        ? Promise.resolve(accepted[taken++] as Received)
        : new Promise((resolve) => {
            taken++
            waiting.push(resolve)
          }),
  }
}

async function client(port: number): Promise<Received> {
  const s = connect(port, '127.0.0.1')
  s.on('error', () => {})
  const r = new Received(s)
  await once(s, 'connect')
  return r
}

async function proxyTo(
  t: import('ava').ExecutionContext,
  targetPort: number,
  options: { protocol?: 'tcp' | 'udp'; maxHeldBytes?: number } = {},
): Promise<FaultProxy> {
  const p = await startFaultProxy({ targetPort, ...options })
  t.teardown(() => p.close())
  return p
}

/** `count` numbered chunks of `size` bytes: the stream whose order is checked. */
function numbered(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251))
}

/** Resolves with the error code a socket closes with (undefined on a clean close). */
function closeCode(s: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let code: string | undefined
    s.on('error', (e: NodeJS.ErrnoException) => {
      code = e.code
    })
    s.once('close', () => resolve(code))
  })
}

test('tcp: passes bytes both ways and counts them', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  const c = await client(proxy.port)
  const s = await srv.next()
  c.socket.write('hello')
  await s.atLeast(5)
  s.socket.write('world!')
  await c.atLeast(6)
  t.is(s.data.toString(), 'hello')
  t.is(c.data.toString(), 'world!')
  t.is(proxy.connections, 1)
  t.is(proxy.stats.forward.bytesForwarded, 5)
  t.is(proxy.stats.backward.bytesForwarded, 6)
  t.deepEqual(proxy.lanes, [{ lane: -1, bytesBack: 6 }])
})

test('tcp: the lane byte of a Helios preamble is recorded per connection', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  for (const lane of [1, 0]) {
    const c = await client(proxy.port)
    const s = await srv.next()
    // the preamble arriving in two pieces
    c.socket.write(Buffer.from('HELI', 'latin1'))
    await s.atLeast(4)
    c.socket.write(Buffer.from([0x4f, 0x53, 2, lane]))
    await s.atLeast(8)
  }
  t.deepEqual(
    proxy.lanes.map((l) => l.lane),
    [1, 0],
  )
})

test('tcp: a blackhole both ways holds the bytes; heal delivers them in order, nothing lost', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  const c = await client(proxy.port)
  const s = await srv.next()
  proxy.blackhole('both')
  const up = numbered(200, 1000)
  const down = numbered(100, 3000)
  for (const b of up) c.socket.write(b)
  for (const b of down) s.socket.write(b)
  await proxy.until((p) => p.stats.forward.bytesHeld === 200_000 && p.stats.backward.bytesHeld === 300_000, 5000, 'all bytes held')
  t.is(s.bytes, 0)
  t.is(c.bytes, 0)
  t.is(proxy.stats.forward.bytesHeldTotal, 200_000)
  proxy.heal()
  await Promise.all([s.atLeast(200_000), c.atLeast(300_000)])
  t.true(s.data.equals(Buffer.concat(up)), 'client -> target in order, complete')
  t.true(c.data.equals(Buffer.concat(down)), 'target -> client in order, complete')
  t.is(proxy.stats.forward.bytesHeld, 0)
  t.is(proxy.stats.forward.bytesDropped, 0)
})

test('tcp: a one-way blackhole holds one direction while the other passes', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  const c = await client(proxy.port)
  const s = await srv.next()

  proxy.blackhole('forward')
  c.socket.write('up-1')
  s.socket.write('down-1')
  await c.atLeast(6) // backward passes
  await proxy.until((p) => p.stats.forward.bytesHeld === 4, 5000, 'forward bytes held')
  t.is(s.bytes, 0)

  proxy.blackhole('backward') // forward is released, backward held now
  c.socket.write('up-2')
  s.socket.write('down-2')
  await s.atLeast(8)
  t.is(s.data.toString(), 'up-1up-2')
  await proxy.until((p) => p.stats.backward.bytesHeld === 6, 5000, 'backward bytes held')
  t.is(c.data.toString(), 'down-1')

  proxy.heal()
  await c.atLeast(12)
  t.is(c.data.toString(), 'down-1down-2')
})

test('tcp: held bytes are bounded (the proxy stops reading) and all arrive after heal', async (t) => {
  const srv = await target(t)
  const bound = 256 * 1024
  const proxy = await proxyTo(t, srv.port, { maxHeldBytes: bound })
  const c = await client(proxy.port)
  const s = await srv.next()
  proxy.blackhole('forward')
  const payload = Buffer.alloc(4 * 1024 * 1024)
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i, i)
  c.socket.write(payload)
  await proxy.until((p) => p.stats.forward.bytesHeld >= bound, 5000, 'the bound reached')
  proxy.heal()
  await s.atLeast(payload.length)
  t.true(s.data.equals(payload))
  // the proxy pauses reading at the bound; one more socket read may land on top of it
  t.true(proxy.stats.forward.peakBytesHeld < bound + 1024 * 1024, `peak held ${proxy.stats.forward.peakBytesHeld}`)
})

test('tcp: a connection opened during a blackhole reaches the target only after heal, with its bytes', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  proxy.blackhole('both')
  const c = await client(proxy.port) // the proxy's kernel accepts it
  c.socket.write('sent into the partition')
  await proxy.until((p) => p.connections === 1 && p.stats.forward.bytesHeld === 23, 5000, 'the connection and its bytes held')
  t.is(srv.accepted.length, 0, 'nothing reached the target')
  proxy.heal()
  const s = await srv.next()
  await s.atLeast(23)
  t.is(s.data.toString(), 'sent into the partition')
  s.socket.write('answer')
  await c.atLeast(6)
  t.is(c.data.toString(), 'answer')
})

test('tcp: delay forwards every chunk later, in order', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  const c = await client(proxy.port)
  const s = await srv.next()
  proxy.delay(150)
  const started = performance.now()
  c.socket.write('a')
  await proxy.until((p) => p.stats.forward.bytesHeld === 1, 5000, 'the first chunk queued')
  proxy.delay(20) // a shorter delay later must not overtake the first chunk
  c.socket.write('b')
  await s.atLeast(2)
  const elapsed = performance.now() - started
  t.is(s.data.toString(), 'ab')
  t.true(elapsed >= 145, `arrived after ${elapsed.toFixed(0)} ms`)
  proxy.delay(0)
  c.socket.write('c')
  await s.atLeast(3)
  t.is(s.data.toString(), 'abc')
})

test('tcp: cut resets both sides of every connection', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  const c = await client(proxy.port)
  const s = await srv.next()
  c.socket.write('x')
  await s.atLeast(1)
  const [clientClosed, targetClosed] = [closeCode(c.socket), closeCode(s.socket)]
  proxy.cut()
  t.is(await clientClosed, 'ECONNRESET')
  t.is(await targetClosed, 'ECONNRESET')
  // the path is still up: a new connection passes
  const c2 = await client(proxy.port)
  const s2 = await srv.next()
  c2.socket.write('again')
  await s2.atLeast(5)
  t.is(proxy.connections, 2)
})

test('tcp: refuse resets new connections right after accept; off again, they pass', async (t) => {
  const srv = await target(t)
  const proxy = await proxyTo(t, srv.port)
  proxy.refuse(true)
  const s = connect(proxy.port, '127.0.0.1')
  t.is(await closeCode(s), 'ECONNRESET')
  t.is(proxy.stats.refused, 1)
  t.is(proxy.connections, 0)
  t.is(srv.accepted.length, 0)
  proxy.refuse(false)
  const c = await client(proxy.port)
  const s2 = await srv.next()
  c.socket.write('ok')
  await s2.atLeast(2)
  t.is(proxy.connections, 1)
})

// ---- udp -------------------------------------------------------------------------------------

async function udpSocket(
  t: import('ava').ExecutionContext,
): Promise<{ socket: UdpSocket; port: number; next: () => Promise<{ msg: string; port: number }> }> {
  const socket = createSocket('udp4')
  const inbox: { msg: string; port: number }[] = []
  const waiting: ((m: { msg: string; port: number }) => void)[] = []
  socket.on('message', (m, rinfo) => {
    const item = { msg: m.toString(), port: rinfo.port }
    const w = waiting.shift()
    if (w !== undefined) w(item)
    else inbox.push(item)
  })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  t.teardown(() => socket.close())
  return {
    socket,
    port: socket.address().port,
    next: () =>
      inbox.length > 0 ? Promise.resolve(inbox.shift() as { msg: string; port: number }) : new Promise((resolve) => waiting.push(resolve)),
  }
}

test('udp: forwards both ways, drops in a black-holed direction and counts', async (t) => {
  const server = await udpSocket(t)
  const cl = await udpSocket(t)
  const proxy = await proxyTo(t, server.port, { protocol: 'udp' })
  const send = (s: UdpSocket, msg: string, port: number): void => {
    s.send(msg, port, '127.0.0.1')
  }

  send(cl.socket, 'ping', proxy.port)
  const got = await server.next()
  t.is(got.msg, 'ping')
  send(server.socket, 'pong', got.port) // the reply goes to the client's upstream socket on the proxy
  t.deepEqual(await cl.next(), { msg: 'pong', port: proxy.port })

  proxy.blackhole('forward')
  for (let i = 0; i < 3; i++) send(cl.socket, `lost ${i}`, proxy.port)
  await proxy.until((p) => p.stats.forward.datagramsDropped === 3, 5000, '3 datagrams dropped')
  send(server.socket, 'still passes', got.port)
  t.is((await cl.next()).msg, 'still passes')

  proxy.blackhole('backward')
  send(cl.socket, 'arrives', proxy.port)
  t.is((await server.next()).msg, 'arrives') // the first 3 were dropped, not delayed
  send(server.socket, 'reply lost', got.port)
  await proxy.until((p) => p.stats.backward.datagramsDropped === 1, 5000, 'the reply dropped')

  proxy.heal()
  send(cl.socket, 'after heal', proxy.port)
  t.is((await server.next()).msg, 'after heal')
  send(server.socket, 'back', got.port)
  t.is((await cl.next()).msg, 'back')
  t.is(proxy.connections, 1, 'one client address, one upstream socket')
  t.is(proxy.stats.forward.datagramsForwarded, 3)
  t.is(proxy.stats.backward.datagramsForwarded, 3)
  t.is(proxy.stats.forward.bytesDropped, 'lost 0'.length * 3)
})

test('udp: delay delays datagrams, in order', async (t) => {
  const server = await udpSocket(t)
  const cl = await udpSocket(t)
  const proxy = await proxyTo(t, server.port, { protocol: 'udp' })
  proxy.delay(120)
  const started = performance.now()
  for (const m of ['1', '2', '3']) cl.socket.send(m, proxy.port, '127.0.0.1')
  const got = [(await server.next()).msg, (await server.next()).msg, (await server.next()).msg]
  const elapsed = performance.now() - started
  t.deepEqual(got, ['1', '2', '3'])
  t.true(elapsed >= 115, `arrived after ${elapsed.toFixed(0)} ms`)
})

// ---- two actor systems ------------------------------------------------------------------------

const PARTITION_MS = 1000

for (const transport of ['tcp', 'tls'] as const)
  test(`${transport} actor systems: an ask sent during a 1 s blackhole both ways gets its reply after heal`, async (t) => {
    const { a, b, toA, toB } = await proxiedPair(t, { transport })
    b.actorOf((m, ctx) => {
      ctx.sender?.tell(m)
    }, 'echo')
    const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
    t.is(await a.ask(echo, 'before', { timeoutMs: 5000 }), 'before')
    const quarantined: string[] = []
    a.events.on('quarantined', (e) => quarantined.push(e.reason))
    b.events.on('quarantined', (e) => quarantined.push(e.reason))

    toA.blackhole('both')
    toB.blackhole('both')
    const asked = performance.now()
    const reply = a.ask(echo, 'during', { timeoutMs: 10_000 })
    await toB.until((p) => p.stats.forward.bytesHeldTotal > 0, 5000, 'the ask held by the proxy')
    await new Promise((r) => setTimeout(r, PARTITION_MS))
    toA.heal()
    toB.heal()
    t.is(await reply, 'during')
    const elapsed = performance.now() - asked
    t.true(elapsed >= PARTITION_MS, `reply after ${elapsed.toFixed(0)} ms`)
    t.deepEqual(quarantined, [])
    t.is(a.associations()[0]?.state, 'established')
  })

test('udp actor systems: during a 1 s blackhole both ways the ask is lost (user messages are at most once), a watch is resent; after heal asks work', async (t) => {
  const { a, b, toA, toB } = await proxiedPair(t, { transport: 'udp' })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const victim = b.actorOf(() => {}, 'victim')
  // The first handshake: through the proxies B's answers come from ports A does not know, and
  // B may answer the unverified claimant only with what it sent. B's replies were charged 4 bytes
  // more than the claimant's frames were credited, so B's own request never went out and the
  // handshake timed out (16 s, or never, in about half the runs beside the fuzz suite); fixed.
  // What this test is about comes after it.
  const t0 = performance.now()
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 20_000 })
  t.log(`resolved after ${(performance.now() - t0).toFixed(0)} ms`)
  const victimOnA = await a.actorSelection(`${b.address.toString()}/user/victim`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'before', { timeoutMs: 5000 }), 'before')
  let terminated!: (m: Terminated) => void
  const gotTerminated = new Promise<Terminated>((resolve) => {
    terminated = resolve
  })

  toA.blackhole('both')
  toB.blackhole('both')
  const reply = a.ask(echo, 'during', { timeoutMs: PARTITION_MS + 1000 })
  a.actorOf((m, ctx) => {
    if (m === 'watch') ctx.watch(victimOnA)
    else if (m instanceof Terminated) terminated(m)
  }).tell('watch')
  await toB.until((p) => p.stats.forward.datagramsDropped > 0, 5000, 'datagrams to B dropped')
  await new Promise((r) => setTimeout(r, PARTITION_MS))
  toA.heal()
  toB.heal()
  await t.throwsAsync(reply, { instanceOf: AskTimeoutError })
  t.is(await a.ask(echo, 'after', { timeoutMs: 5000 }), 'after')
  // the watch (a system message) was resent after the heal: B's stop reaches the watcher
  await toB.until(() => a.associations()[0]?.unackedSystemMessages === 0, 5000, 'the watch acknowledged')
  b.stop(victim)
  const m = await gotTerminated
  t.false(m.addressTerminated)
  t.true(toB.stats.forward.datagramsDropped > 0 && toA.stats.forward.datagramsDropped > 0)
})

test('a node in a child process behind the proxy: a blackhole holds the ask, heal delivers it and its reply', async (t) => {
  const { node: b, proxy } = await spawnProxiedNode(t, { name: 'B', transport: 'tcp' })
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(() => a.terminate())
  t.true(b.address.endsWith(`:${proxy.port}`), b.address)
  const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'before', { timeoutMs: 5000 }), 'before')
  proxy.blackhole('both')
  const reply = a.ask(echo, 'held', { timeoutMs: 5000 })
  await proxy.until((p) => p.stats.forward.bytesHeldTotal > 0, 5000, 'the ask held')
  proxy.heal()
  t.is(await reply, 'held')
  t.deepEqual(proxy.lanes.map((l) => l.lane).sort(), [0, 1])
})
