import test from 'ava'
import { ActorNotFound } from '@helios/actors'
import { proxiedPair } from './support/faultProxy.js'

test('resolveOne retried while the peer has not answered yet joins the Identify on its way: the peer gets one, and the last call resolves', async (t) => {
  // Everything A sends B is held by the proxy (B is as good as overloaded): A's handshake and its
  // Identify wait.
  const { a, b, toB } = await proxiedPair(t, { remote: { handshakeTimeoutMs: 5000 } })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  toB.blackhole('forward')
  const path = `${b.address.toString()}/user/echo`
  for (let i = 0; i < 3; i++) {
    const err = await t.throwsAsync(a.actorSelection(path).resolveOne({ timeoutMs: 200 }))
    t.true(err instanceof ActorNotFound, String(err))
  }
  const last = a.actorSelection(path).resolveOne({ timeoutMs: 3000 })
  toB.heal()
  const ref = await last
  t.is(await a.ask(ref, 'hi', { timeoutMs: 3000 }), 'hi')
  const [fromA] = b.associations()
  // One Identify and one ask: the three calls that timed out sent nothing more.
  t.is(fromA?.messagesReceived, 2, `messages B received from A: ${fromA?.messagesReceived}`)
})

test('resolveOne after the Identify on its way was lost (the handshake timed out and dropped it) sends a new one', async (t) => {
  const { a, b, toB } = await proxiedPair(t, { remote: { handshakeTimeoutMs: 400 } })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const path = `${b.address.toString()}/user/echo`
  toB.blackhole('forward')
  const dropped = new Promise<void>((resolve) => {
    a.events.on('dropped', (e) => {
      if (/timed out/.test(e.reason)) resolve()
    })
  })
  await t.throwsAsync(a.actorSelection(path).resolveOne({ timeoutMs: 200 }))
  await dropped
  toB.heal()
  const ref = await a.actorSelection(path).resolveOne({ timeoutMs: 3000 })
  t.is(await a.ask(ref, 'again', { timeoutMs: 3000 }), 'again')
})

test('udp: a peer far away (1.2 s round trip) gets no copy of an Identify before its answer could have come; without the round trip it would get one every 250 ms, doubling', async (t) => {
  const { a, b, toA, toB } = await proxiedPair(t, { transport: 'udp' })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  toA.delay(600)
  toB.delay(600)
  const started = Date.now()
  const ref = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 10_000 })
  t.log(`resolved in ${Date.now() - started} ms`)
  const [fromA] = b.associations()
  t.is(fromA?.messagesReceived, 1, `Identify copies B received: ${fromA?.messagesReceived}`)
  t.is(await a.ask(ref, 'hi', { timeoutMs: 10_000 }), 'hi')
})
