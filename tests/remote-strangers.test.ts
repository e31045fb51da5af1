import test, { type ExecutionContext } from 'ava'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ActorRef, ActorSystem, type RemoteOptions } from '@helios/actors'
import { trustedTls } from './support/certs.js'

/**
 * No dialling on a stranger's word (docs/SECURITY.md): a path read from an envelope makes no
 * association and no connection; a reply to it is sent, but to an address nobody vouched for a
 * node dials only the control lane, within a small share of its connects, and over udp sends no
 * more bytes than the peer that named the address sent it.
 */

type Transport = 'tcp' | 'tls' | 'udp'

async function pair(
  t: ExecutionContext,
  transport: Transport,
  extra: Partial<RemoteOptions> = {},
): Promise<{ a: ActorSystem; c: ActorSystem; scheme: string }> {
  const remote = (): RemoteOptions => ({
    transport,
    host: '127.0.0.1',
    port: 0,
    ...(transport === 'tls' ? { tls: trustedTls() } : {}),
    ...extra,
  })
  const a = await ActorSystem.create('A', { logger: 'silent', remote: remote() })
  const c = await ActorSystem.create('C', { logger: 'silent', remote: remote() })
  t.teardown(async () => {
    await c.terminate()
    await a.terminate()
  })
  return { a, c, scheme: `helios.${transport}` }
}

/** Sends `n` messages from C to `target`, each with a sender at another unknown node `address(i)`. */
function tellFromStrangers(c: ActorSystem, target: ActorRef, n: number, address: (i: number) => string): void {
  for (let i = 0; i < n; i++) target.tell(`hello ${i}`, c.resolveActorRef(`${address(i)}/user/x`))
}

/** A UDP socket that counts what it receives (a third party a node must not be made to flood). */
async function udpSink(t: ExecutionContext): Promise<{ port: number; bytes: () => number; datagrams: () => number }> {
  const s = createSocket('udp4')
  let bytes = 0
  let datagrams = 0
  s.on('message', (m) => {
    bytes += m.byteLength
    datagrams++
  })
  s.bind(0, '127.0.0.1')
  await once(s, 'listening')
  t.teardown(() => s.close())
  return { port: s.address().port, bytes: () => bytes, datagrams: () => datagrams }
}

for (const transport of ['tcp', 'udp'] as const) {
  test(`${transport}: sender paths naming nodes this one never talked to make no association and open nothing`, async (t) => {
    const { a, c, scheme } = await pair(t, transport)
    const third = await udpSink(t)
    const tcpSeen: Socket[] = []
    const server = createServer((s) => tcpSeen.push(s))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = transport === 'udp' ? third.port : (server.address() as { port: number }).port
    t.teardown(() => {
      for (const s of tcpSeen) s.destroy()
      server.close()
    })
    let received = 0
    a.actorOf(() => {
      received++
    }, 'sink')
    const sink = await c.actorSelection(`${a.address}/user/sink`).resolveOne({ timeoutMs: 5000 })
    tellFromStrangers(c, sink, 200, (i) => `${scheme}://S${i}@127.0.0.1:${port}`)
    await sleep(500)
    t.is(received, 200)
    t.deepEqual(
      a.associations().map((x) => x.remote.toString()),
      [c.address.toString()],
    )
    t.is(tcpSeen.length, 0)
    t.is(third.datagrams(), 0)
  })
}

test('udp: replies to senders nobody vouched for cost the named address no more bytes than the peer that named it sent', async (t) => {
  const { a, c } = await pair(t, 'udp', { handshakeTimeoutMs: 1500 })
  const third = await udpSink(t)
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await c.actorSelection(`${a.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  tellFromStrangers(c, echo, 300, (i) => `helios.udp://S${i}@127.0.0.1:${third.port}`)
  await sleep(2500) // every handshake to the strangers timed out
  const fromC = a.associations().find((x) => x.remote.toString() === c.address.toString())
  t.truthy(fromC)
  const sent = fromC?.bytesReceived ?? 0
  t.log(`C sent A ${sent} bytes; A sent the named address ${third.bytes()} bytes in ${third.datagrams()} datagrams`)
  t.true(third.datagrams() > 0, 'the replies were tried')
  t.true(third.bytes() <= sent, `amplification ${(third.bytes() / sent).toFixed(2)}`)
  // The association that carried it all is unharmed.
  t.is(await c.ask(echo, 'still here', { timeoutMs: 5000 }), 'still here')
})

test('tls: replies to senders nobody vouched for take a small share of the connects, and the peers this node looks for go first', async (t) => {
  const { a, c, scheme } = await pair(t, 'tls', { maxConnectsInFlight: 8, handshakeTimeoutMs: 3000 })
  // A host that accepts connections and never answers TLS: each connect to it holds its slot.
  let open = 0
  let most = 0
  let total = 0
  const held: Socket[] = []
  const tarpit = createServer((s) => {
    held.push(s)
    total++
    most = Math.max(most, ++open)
    s.on('close', () => open--)
    s.on('error', () => {})
  })
  tarpit.listen(0, '127.0.0.1')
  await once(tarpit, 'listening')
  t.teardown(() => {
    for (const s of held) s.destroy()
    tarpit.close()
  })
  const tarpitPort = (tarpit.address() as { port: number }).port
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await c.actorSelection(`${a.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  tellFromStrangers(c, echo, 100, (i) => `${scheme}://S${i}@127.0.0.1:${tarpitPort}`)
  await sleep(300)
  // A node A looks for itself, meanwhile: its connect does not wait behind the strangers'.
  const d = await ActorSystem.create('D', { logger: 'silent', remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls: trustedTls() } })
  t.teardown(() => d.terminate())
  d.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const dEcho = await a.actorSelection(`${d.address}/user/echo`).resolveOne({ timeoutMs: 2000 })
  t.is(await a.ask(dEcho, 'found', { timeoutMs: 2000 }), 'found')
  await sleep(1000)
  t.log(`connections to the silent host: ${total} in all, ${most} at once (share 1 of 8)`)
  t.true(total > 0, 'the replies were tried')
  t.is(most, 1, 'one connect slot of 8 for addresses nobody vouched for')
  t.is(await c.ask(echo, 'still here', { timeoutMs: 5000 }), 'still here')
})
