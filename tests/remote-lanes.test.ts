import test from 'ava'
import { ActorSystem, Terminated } from '@helios/actors'
import { spawnNode } from './support/node.js'

// Heartbeats every 100 ms, 1 s acceptable pause: a control lane stuck behind the user lane's 4 MiB
// messages for a second would make the node unreachable and quarantine it. A watches B (so A
// monitors B); the heartbeat round trip A measures crosses the loaded direction either way.
const remote = { heartbeatIntervalMs: 100, failureDetector: { acceptableHeartbeatPauseMs: 1000, threshold: 8 } }
const MiB4 = 4 * 1024 * 1024

for (const direction of ['A to B', 'B to A'] as const) {
  test(`a stream of 4 MiB messages ${direction} never delays heartbeats past the acceptable pause`, async (t) => {
    const b = await spawnNode({ name: 'B', transport: 'tcp', remote })
    const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, ...remote } })
    t.teardown(async () => {
      await a.terminate()
      await b.kill()
    })
    let received = 0
    a.actorOf(() => {
      received++
    }, 'sink')
    const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
    a.actorOf((m, ctx) => {
      if (m === 'watch') ctx.watch(echo)
      else if (m instanceof Terminated) t.fail('B was declared gone')
    }).tell('watch')
    const bad: string[] = []
    a.events.on('unreachable', () => bad.push('unreachable'))
    a.events.on('quarantined', (e) => bad.push(`quarantined: ${e.reason}`))
    let sent = 0
    if (direction === 'A to B') {
      // B's sink only counts: heartbeats go out every interval, their requests behind A's stream.
      const sink = await a.actorSelection(`${b.address}/user/sink`).resolveOne({ timeoutMs: 5000 })
      const big = new Uint8Array(MiB4).fill(7)
      const until = Date.now() + 3000
      while (Date.now() < until) {
        sink.tell(big)
        sent++
        await new Promise((r) => setTimeout(r, 20))
      }
    } else {
      // B streams to A: A hears B, and every tenth interval a heartbeat's reply comes behind B's stream.
      sent = await b.command<number>('stream', { path: `${a.address.toString()}/user/sink`, size: MiB4, ms: 3000 })
    }
    await new Promise((r) => setTimeout(r, 500))
    const info = a.associations().find((x) => x.remote.toString() === b.address)
    const rtt = info?.maxHeartbeatRoundTripMs ?? Number.NaN
    t.log(
      `${direction}: ${sent} x 4 MiB sent (${direction === 'B to A' ? `${received} arrived` : 'to a counting sink'}), longest heartbeat round trip ${rtt.toFixed(1)} ms, phi ${info?.phi.toFixed(2)}`,
    )
    t.true(sent >= 10)
    t.true(rtt > 0, 'heartbeats were measured')
    t.true(rtt < remote.failureDetector.acceptableHeartbeatPauseMs, `${rtt} ms`)
    t.deepEqual(bad, [])
    t.deepEqual(
      b.events.filter((e) => e.name === 'unreachable' || e.name === 'quarantined'),
      [],
    )
  })
}
