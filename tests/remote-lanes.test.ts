import test from 'ava'
import { ActorSystem } from '@helios/actors'
import { spawnNode } from './support/node.js'

test('a stream of 4 MiB messages never delays heartbeats past the acceptable pause', async (t) => {
  // Heartbeats every 100 ms, 1 s acceptable pause: a control lane stuck behind the user lane's
  // 4 MiB messages for a second would make the node unreachable and quarantine it.
  const remote = { heartbeatIntervalMs: 100, failureDetector: { acceptableHeartbeatPauseMs: 1000, threshold: 8 } }
  const b = await spawnNode({ name: 'B', transport: 'tcp', remote })
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, ...remote } })
  t.teardown(async () => {
    await a.terminate()
    await b.kill()
  })
  const sink = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const bad: string[] = []
  a.events.on('unreachable', () => bad.push('unreachable'))
  a.events.on('quarantined', (e) => bad.push(`quarantined: ${e.reason}`))
  const big = new Uint8Array(4 * 1024 * 1024).fill(7)
  let replies = 0
  let maxPhi = 0
  const until = Date.now() + 4000
  // Keep four 4 MiB messages in flight for four seconds (echoed back: both directions are loaded).
  await new Promise<void>((resolve) => {
    const pump = a.actorOf((m, ctx) => {
      if (m !== 'go') replies++
      maxPhi = Math.max(maxPhi, ...a.associations().map((x) => x.phi))
      if (Date.now() < until) sink.tell(big, ctx.self)
      else if (m !== 'go') resolve()
    })
    for (let i = 0; i < 4; i++) pump.tell('go')
  })
  t.log(`${replies} x 4 MiB echoed, max phi ${maxPhi.toFixed(2)}`)
  t.true(replies >= 4)
  t.deepEqual(bad, [])
  t.true(maxPhi < 8)
  t.deepEqual(
    b.events.filter((e) => e.name === 'unreachable' || e.name === 'quarantined'),
    [],
  )
})
