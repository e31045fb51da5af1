import test from 'ava'
import { Terminated, type ActorRef } from '@helios/actors'
import { proxiedPair } from './support/faultProxy.js'

test('after cut connections the association reconnects and system messages arrive exactly once, in order', async (t) => {
  // Every connection in either direction passes a proxy that the test can cut.
  const { a, b, toA: proxyToA, toB: proxy } = await proxiedPair(t)

  const N = 40
  const targets: ActorRef[] = []
  for (let i = 0; i < N; i++) b.actorOf(() => {}, `t${i}`)
  for (let i = 0; i < N; i++) targets.push(await a.actorSelection(`${b.address.toString()}/user/t${i}`).resolveOne({ timeoutMs: 5000 }))

  const seen: string[] = []
  let allIn!: () => void
  const all = new Promise<void>((r) => {
    allIn = r
  })
  const watcher = a.actorOf((m, ctx) => {
    if (m === 'watch') for (const r of targets) ctx.watch(r)
    else if (m instanceof Terminated) {
      seen.push(m.ref.path.name)
      if (seen.length === N) allIn()
    }
  })
  const disassociations: string[] = []
  a.events.on('disassociated', (e) => disassociations.push(e.reason))

  watcher.tell('watch')
  proxy.cut() // the watches are in flight while the connections die
  await new Promise((r) => setTimeout(r, 300))
  // B stops every target while A's connections are cut again and again: the death-watch
  // notifications (system messages from B to A) and the watches (A to B) must survive.
  for (let i = 0; i < N; i++) {
    b.stop(b.resolveActorRef(`${b.address.toString()}/user/t${i}`))
    if (i % 10 === 0) {
      proxy.cut()
      proxyToA.cut()
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  await all
  await new Promise((r) => setTimeout(r, 500)) // a duplicate would arrive now
  t.is(seen.length, N)
  t.is(new Set(seen).size, N, 'each Terminated exactly once')
  t.true(proxy.connections > 2 && proxyToA.connections > 2, 'the associations reconnected')
  t.true(disassociations.length > 0)
  // User traffic flows again after the cuts.
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'back', { timeoutMs: 5000 }), 'back')
})
