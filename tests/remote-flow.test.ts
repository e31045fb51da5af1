import test from 'ava'
import { ActorSystem, type RemoteOptions } from '@helios/actors'
import { spawnNode } from './support/node.js'
import { trustedTls } from './support/certs.js'

for (const transport of ['tcp', 'tls'] as const) {
  test(`${transport}: 100,000 messages to another process arrive in order and none is lost`, async (t) => {
    const tls = transport === 'tls' ? { tls: 'trusted' as const } : {}
    const b = await spawnNode({ name: 'B', transport, ...tls })
    const a = await ActorSystem.create('A', {
      remote: { transport, host: '127.0.0.1', port: 0, ...(transport === 'tls' ? { tls: trustedTls() } : {}) },
    })
    t.teardown(async () => {
      await a.terminate()
      await b.kill()
    })
    const sink = await a.actorSelection(`${b.address}/user/sink`).resolveOne({ timeoutMs: 5000 })
    const dropped: string[] = []
    a.events.on('dropped', (e) => dropped.push(e.reason))
    const N = 100_000
    // Send in bursts that fit the outbound queue; tell itself never blocks.
    const sender = a.actorOf(async (m, ctx) => {
      if (m !== 'go') return
      for (let i = 1; i <= N; i++) {
        sink.tell({ seq: i }, ctx.self)
        if (i % 5000 === 0) await new Promise((r) => setImmediate(r))
      }
    }, 'sender')
    sender.tell('go')
    let report = { count: 0, outOfOrder: -1 }
    const deadline = Date.now() + 60_000
    while (report.count < N && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250))
      report = await a.ask(sink, 'report', { timeoutMs: 5000 })
    }
    t.deepEqual(dropped, [])
    t.is(report.count, N)
    t.is(report.outOfOrder, 0)
  })
}

test('a slow consumer makes the sender drop with dropped events while its memory stays bounded', async (t) => {
  const queue = 2000
  const b = await spawnNode({ name: 'B', transport: 'tcp' })
  const opts: RemoteOptions = {
    transport: 'tcp',
    host: '127.0.0.1',
    port: 0,
    outboundQueueSize: queue,
    failureDetector: { acceptableHeartbeatPauseMs: 60_000 },
  }
  const a = await ActorSystem.create('A', { remote: opts })
  t.teardown(async () => {
    b.process.kill('SIGCONT')
    await a.terminate()
    await b.kill()
  })
  const sink = await a.actorSelection(`${b.address}/user/sink`).resolveOne({ timeoutMs: 5000 })
  await b.kill('SIGSTOP') // B stops reading: its socket buffers fill, then A's channel turns unwritable
  let dropped = 0
  a.events.on('dropped', () => {
    dropped++
  })
  const payload = 'x'.repeat(1024)
  const heapBefore = process.memoryUsage().heapUsed
  let sent = 0
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 5000; i++) sink.tell({ seq: ++sent, payload })
    await new Promise((r) => setTimeout(r, 5))
  }
  const heapAfter = process.memoryUsage().heapUsed
  const [info] = a.associations()
  t.truthy(info)
  t.true(info!.queued <= queue, `queue holds ${info!.queued}`)
  t.is(info!.dropped, dropped)
  t.log(`sent ${sent}, dropped ${dropped}, heap grew ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB`)
  t.true(dropped > sent / 2, 'most messages were dropped, not buffered')
  t.true(heapAfter - heapBefore < 150e6, 'memory stays bounded')
  // 200,000 x 1 KiB = 200 MB would have been buffered without the bound.
})
