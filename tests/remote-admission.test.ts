import test from 'ava'
import type { ExecutionContext } from 'ava'
import { connect, type Socket } from 'node:net'
import { ActorSystem, type HandshakeFailedEvent, type RemoteOptions } from '@helios/actors'
import { encodePreamble, Lane } from '@helios/codec'
import { trustedTls } from './support/certs.js'
import { spawnNode } from './support/node.js'

// Fair admission of inbound connections (docs/SECURITY.md, "Every connection"): slots for
// connections in their handshake, per source address and in all, and a short deadline for the
// preamble. The attacks come from 127.0.0.2, 127.0.0.3 ... (loopback routes all of 127/8), the
// legitimate nodes from 127.0.0.1.

interface Raw {
  readonly socket: Socket
  readonly gone: Promise<void>
}

/** A TCP connection from `from` that sends `bytes` (or nothing) and then waits. */
async function raw(t: ExecutionContext, port: number, from: string, bytes?: Uint8Array): Promise<Raw> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from })
  socket.on('error', () => {})
  socket.resume()
  const gone = new Promise<void>((r) => socket.once('close', () => r()))
  t.teardown(() => socket.destroy())
  await new Promise((r) => socket.once('connect', r))
  if (bytes !== undefined) socket.write(bytes)
  return { socket, gone }
}

const open = (r: Raw): boolean => !(r.socket.destroyed || r.socket.readableEnded)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function target(
  t: ExecutionContext,
  remote: Partial<RemoteOptions> = {},
): Promise<{ node: ActorSystem; refusals: HandshakeFailedEvent[] }> {
  const node = await ActorSystem.create('Target', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, ...remote } as RemoteOptions })
  t.teardown(() => node.terminate())
  node.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  const refusals: HandshakeFailedEvent[] = []
  node.events.on('handshakeFailed', (e) => refusals.push(e))
  return { node, refusals }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(10)
  }
}

test('a connection that sends no preamble, or no handshake request after it, is closed after handshakeTimeoutMs while the slots are not crowded, saying which', async (t) => {
  const { node, refusals } = await target(t, { preambleTimeoutMs: 300, handshakeTimeoutMs: 900 })
  const port = node.address.port as number
  const started = performance.now()
  const silent = await raw(t, port, '127.0.0.2')
  const half = await raw(t, port, '127.0.0.2', encodePreamble(Lane.control))
  await sleep(500)
  t.true(open(silent) && open(half), 'a late peer is not refused at preambleTimeoutMs while slots are free')
  await Promise.all([silent.gone, half.gone])
  const elapsed = performance.now() - started
  t.true(elapsed >= 850 && elapsed < 5000, `closed after ${elapsed.toFixed(0)} ms`)
  await until(() => refusals.length >= 2)
  t.deepEqual(refusals.map((e) => e.reason).sort(), ['no handshake request within 900 ms', 'no preamble within 900 ms'])
})

test('while half or more of the handshake slots are taken, a connection that sends no preamble is closed after preambleTimeoutMs', async (t) => {
  const { node, refusals } = await target(t, { preambleTimeoutMs: 300, handshakeTimeoutMs: 10_000, maxPendingInboundHandshakes: 2 })
  const port = node.address.port as number
  const started = performance.now()
  const silent = await raw(t, port, '127.0.0.2')
  const half = await raw(t, port, '127.0.0.3', encodePreamble(Lane.control))
  await Promise.all([silent.gone, half.gone])
  t.true(performance.now() - started < 5000)
  await until(() => refusals.length >= 2)
  t.deepEqual(refusals.map((e) => e.reason).sort(), [
    'no handshake request within 300 ms (half or more of the handshake slots taken)',
    'no preamble within 300 ms (half or more of the handshake slots taken)',
  ])
})

test('one source holds at most half of the slots; when all are taken, a newcomer from another source takes the oldest slot of the largest holder', async (t) => {
  const { node, refusals } = await target(t, { maxPendingInboundHandshakes: 8 })
  const port = node.address.port as number
  const a = await Promise.all(Array.from({ length: 4 }, () => raw(t, port, '127.0.0.2')))
  const a5 = await raw(t, port, '127.0.0.2')
  await a5.gone
  await until(() => refusals.length === 1)
  t.is(refusals[0]?.reason, 'too many connections in handshake from 127.0.0.2 (4, maxPendingInboundHandshakesPerSource)')
  t.regex(refusals[0]?.remote ?? '', /^127\.0\.0\.2:\d+$/)
  const b = await Promise.all(Array.from({ length: 4 }, () => raw(t, port, '127.0.0.3')))
  await sleep(100)
  t.true([...a, ...b].every(open), 'all 8 slots taken')
  // 127.0.0.4 holds none: it takes the oldest slot of 127.0.0.2 (the first of the largest holders).
  const c = await raw(t, port, '127.0.0.4')
  await a[0]?.gone
  await until(() => refusals.length === 2)
  t.is(refusals[1]?.reason, 'too many connections in handshake: 127.0.0.2 held the most of the 8, its oldest made room for 127.0.0.4')
  t.true(open(c))
  t.true([...a.slice(1), ...b].every(open))
  // 4, 3 and 1: 127.0.0.4 may still take one from 127.0.0.3; then 3, 3, 2: nobody may take from anybody.
  const c2 = await raw(t, port, '127.0.0.4')
  await b[0]?.gone
  const c3 = await raw(t, port, '127.0.0.4')
  await c3.gone
  await until(() => refusals.length === 4)
  t.regex(
    refusals[3]?.reason ?? '',
    /^too many connections in handshake \(8, maxPendingInboundHandshakes\), none from a source holding more than 127\.0\.0\.4$/,
  )
  t.true(open(c2))
})

test('over TLS, 256 connections may be in their TLS handshake (128 per source), as docs/SECURITY.md says', async (t) => {
  const { node, refusals } = await target(t, { transport: 'tls', tls: trustedTls() })
  const port = node.address.port as number
  const a = await Promise.all(Array.from({ length: 128 }, () => raw(t, port, '127.0.0.2')))
  const a129 = await raw(t, port, '127.0.0.2')
  await a129.gone
  const b = await Promise.all(Array.from({ length: 128 }, () => raw(t, port, '127.0.0.3')))
  await sleep(200)
  t.true([...a, ...b].every(open), '256 TLS handshakes pending')
  const c = await raw(t, port, '127.0.0.4')
  await a[0]?.gone
  await until(() => refusals.length === 2)
  t.regex(refusals[0]?.reason ?? '', /refused: too many pending TLS handshakes/)
  t.regex(
    String((refusals[0]?.error as Error | undefined)?.cause),
    /128 TLS handshakes pending from 127\.0\.0\.2, maxPendingHandshakesPerSource is 128/,
  )
  t.regex(
    String((refusals[1]?.error as Error | undefined)?.cause),
    /all 256 TLS handshake slots taken, 127\.0\.0\.2 held the most: its oldest made room for 127\.0\.0\.4/,
  )
  t.true(open(c))
})

/** Connections from `from` that send nothing, each opened again as soon as the node closes it. */
function slowloris(port: number, from: string, n: number): { stop: () => void; connects: () => number } {
  let stopped = false
  let connects = 0
  const sockets = new Set<Socket>()
  const one = (): void => {
    if (stopped) return
    const s = connect({ port, host: '127.0.0.1', localAddress: from })
    sockets.add(s)
    s.on('connect', () => connects++)
    s.on('error', () => {})
    s.resume()
    s.once('close', () => {
      sockets.delete(s)
      setImmediate(one)
    })
  }
  for (let i = 0; i < n; i++) one()
  return {
    stop: () => {
      stopped = true
      for (const s of sockets) s.destroy()
    },
    connects: () => connects,
  }
}

test('during a slow-loris from another host that re-opens what is closed, new nodes associate and an existing association goes on', async (t) => {
  const victim = await spawnNode({ name: 'Victim', transport: 'tcp' })
  t.teardown(() => victim.kill())
  const port = Number(/:(\d+)$/.exec(victim.address)?.[1])
  const old = await ActorSystem.create('Old', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(() => old.terminate())
  const oldEcho = await old.actorSelection(`${victim.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const attack = slowloris(port, '127.0.0.2', 500)
  t.teardown(() => attack.stop())
  await until(() => attack.connects() >= 500)
  await sleep(500)
  for (let i = 0; i < 3; i++) {
    // Before fair admission, no new node got in while the attack held the slots.
    const node = await ActorSystem.create(`New${i}`, { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
    try {
      const echo = await node.actorSelection(`${victim.address}/user/echo`).resolveOne({ timeoutMs: 8000 })
      t.is(await node.ask(echo, `hello ${i}`, { timeoutMs: 5000 }), `hello ${i}`)
    } finally {
      await node.terminate()
    }
  }
  t.is(await old.ask(oldEcho, 'still here', { timeoutMs: 5000 }), 'still here')
  t.true(attack.connects() > 500, 'the attack kept re-opening')
})
