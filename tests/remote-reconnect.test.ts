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

test('a peer that forgot the association (its handshake timed out while ours completed) starts over with us: compressed paths, watches and user messages flow again', async (t) => {
  // B's connections to A are held by the proxy: B adopts A's claim and answers it (A is
  // established), but B's own request never reaches A, so B's handshake times out and B forgets
  // the association (with the compression entries it acked and the system messages it received).
  const { a, b, toA, toB } = await proxiedPair(t, { remote: { handshakeTimeoutMs: 1000 } })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  b.actorOf(() => {}, 'victim1')
  b.actorOf(() => {}, 'victim2')
  const bTimedOut = new Promise<void>((resolve) => {
    b.events.on('handshakeFailed', (e) => {
      if (/timed out/.test(e.reason)) resolve()
    })
  })
  const undecodable: string[] = []
  b.events.on('dropped', (e) => {
    if (e.kind === 'undecodable') undecodable.push(e.reason)
  })
  toA.blackhole('forward')
  const at = `${b.address.toString()}/user`
  const replies: unknown[] = []
  const terminated: string[] = []
  let replied!: () => void
  let ended!: () => void
  const gotReply = new Promise<void>((r) => {
    replied = r
  })
  const gotTerminated = new Promise<void>((r) => {
    ended = r
  })
  // One actor on A that talks to B's echo (its path gets compressed) and watches B's actors.
  const client = a.actorOf((m, ctx) => {
    if (typeof m === 'object' && m !== null && 'send' in m)
      ctx.system.resolveActorRef(`${at}/echo`).tell((m as { send: string }).send, ctx.self)
    else if (typeof m === 'object' && m !== null && 'watch' in m)
      ctx.watch(ctx.system.resolveActorRef(`${at}/${(m as { watch: string }).watch}`))
    else if (m instanceof Terminated) {
      terminated.push(m.ref.path.name)
      ended()
    } else {
      replies.push(m)
      if (m === 'after') replied()
    }
  })
  client.tell({ watch: 'victim1' })
  for (let i = 0; i < 20; i++) {
    client.tell({ send: `before-${i}` })
    await new Promise((r) => setTimeout(r, 40))
  }
  await bTimedOut
  // A's reconnects are held too while B forgets the idle association (at its next tick); then
  // everything passes again.
  toB.blackhole('forward')
  await new Promise((r) => setTimeout(r, 600))
  t.deepEqual(
    b.associations().map((x) => x.state),
    [],
    'B forgot the association',
  )
  toA.heal()
  toB.heal()
  client.tell({ watch: 'victim2' })
  for (let i = 0; i < 20 && replies.length === 0; i++) {
    client.tell({ send: `probe-${i}` })
    await new Promise((r) => setTimeout(r, 100))
  }
  client.tell({ send: 'after' })
  await Promise.race([gotReply, new Promise((r) => setTimeout(r, 5000))])
  t.true(replies.includes('after'), `replies: ${JSON.stringify(replies)}; undecodable at B: ${JSON.stringify(undecodable.slice(0, 3))}`)
  b.stop(b.resolveActorRef(`${at}/victim2`))
  await Promise.race([gotTerminated, new Promise((r) => setTimeout(r, 5000))])
  t.deepEqual(terminated, ['victim2'], 'the watch sent after B forgot the association arrived')
  const [assoc] = a.associations()
  t.is(assoc?.state, 'established')
  t.is(assoc?.peerSessionRestarts, 1, "A saw B's new session and started afresh")
})
