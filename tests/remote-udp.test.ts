import test from 'ava'
import { ActorSystem, type RemoteOptions, Terminated } from '@helios/actors'
import { trustedTls } from './support/certs.js'

// The datagram transports: udp, and dtls (the same datagrams inside DTLS sessions, in records of
// at most 1,215 bytes by default, so a large message is many more fragments).
const options = (transport: 'udp' | 'dtls'): RemoteOptions => ({
  transport,
  host: '127.0.0.1',
  port: 0,
  heartbeatIntervalMs: 200,
  systemMessageResendIntervalMs: 200,
  ...(transport === 'dtls' ? { tls: trustedTls() } : {}),
})

for (const transport of ['udp', 'dtls'] as const) {
  test(`${transport}: a message larger than a datagram is fragmented and arrives whole`, async (t) => {
    const a = await ActorSystem.create('A', { remote: options(transport) })
    const b = await ActorSystem.create('B', { remote: options(transport) })
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    b.actorOf((m, ctx) => {
      ctx.sender?.tell((m as Uint8Array).reduce((s, x) => s + x, 0))
    }, 'sum')
    const sum = await a.actorSelection(`${b.address.toString()}/user/sum`).resolveOne({ timeoutMs: 5000 })
    const big = new Uint8Array(300 * 1024).map((_, i) => i % 7)
    const expected = big.reduce((s, x) => s + x, 0)
    t.is(await a.ask(sum, big, { timeoutMs: 5000 }), expected)
  })

  test(`${transport}: established nodes give each other a socket of their own, and messages flow through them`, async (t) => {
    const a = await ActorSystem.create('A', { remote: options(transport) })
    const b = await ActorSystem.create('B', { remote: options(transport) })
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    b.actorOf((m, ctx) => {
      ctx.sender?.tell(m)
    }, 'echo')
    const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
    const own = (s: ActorSystem): boolean => s.associations().some((x) => x.ownSocket)
    for (let i = 0; i < 50 && !(own(a) && own(b)); i++) t.is(await a.ask(echo, i, { timeoutMs: 5000 }), i)
    t.true(own(a) && own(b), 'both nodes gave the other its own socket')
    for (let i = 0; i < 20; i++) t.is(await a.ask(echo, `after ${i}`, { timeoutMs: 5000 }), `after ${i}`)
  })

  test(`${transport}: death watch works over datagrams (system messages are reliable)`, async (t) => {
    const a = await ActorSystem.create('A', { remote: options(transport) })
    const b = await ActorSystem.create('B', { remote: options(transport) })
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    const target = b.actorOf(() => {}, 'target')
    const ref = await a.actorSelection(`${b.address.toString()}/user/target`).resolveOne({ timeoutMs: 5000 })
    const terminated = new Promise<Terminated>((resolve) => {
      a.actorOf((m, ctx) => {
        if (m === 'go') ctx.watch(ref)
        else if (m instanceof Terminated) resolve(m)
      }).tell('go')
    })
    await new Promise((r) => setTimeout(r, 300))
    b.stop(target)
    const msg = await terminated
    t.true(msg.existenceConfirmed)
    t.false(msg.addressTerminated)
  })
}

test('a ref to an actor that was stopped and recreated under the same name resolves to dead letters', async (t) => {
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  const b = await ActorSystem.create('B', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  const got: unknown[] = []
  const first = b.actorOf((m) => {
    got.push(`first:${String(m)}`)
  }, 'x')
  const oldRef = await a.actorSelection(`${b.address.toString()}/user/x`).resolveOne({ timeoutMs: 5000 })
  const stopped = new Promise<void>((resolve) =>
    b
      .actorOf((m, ctx) => {
        if (m === 'go') ctx.watch(first)
        else resolve()
      })
      .tell('go'),
  )
  b.stop(first)
  await stopped
  b.actorOf((m, ctx) => {
    got.push(`second:${String(m)}`)
    ctx.sender?.tell('ok')
  }, 'x')
  const deadLetters = new Promise<unknown>((resolve) => b.events.once('deadLetter', (d) => resolve(d.message)))
  oldRef.tell('to the old incarnation')
  t.is(await deadLetters, 'to the old incarnation')
  const newRef = await a.actorSelection(`${b.address.toString()}/user/x`).resolveOne({ timeoutMs: 5000 })
  t.not(newRef.path.toSerializationFormat(), oldRef.path.toSerializationFormat())
  t.is(await a.ask(newRef, 'to the new one', { timeoutMs: 5000 }), 'ok')
  t.deepEqual(got, ['second:to the new one'])
})
