import test from 'ava'
import { connect } from 'node:net'
import { Codec, Lane, encodePreamble } from '@helios/codec'
import { ActorSystem, Terminated, type ActorRef, type DroppedEvent, type QuarantinedEvent, type RemoteOptions } from '@helios/actors'
import { trustedTls } from './support/certs.js'
import { proxiedPair } from './support/faultProxy.js'
import { spawnNode, type TestNode } from './support/node.js'
import { eventually, sleep, watchFrom } from './support/watch.js'
import { frame } from './support/wire.js'

// The fault suite: nodes that crash, restart, hang and get partitioned, in two processes or
// behind a user-space proxy that black-holes, cuts and resets (tests/support/faultProxy.ts).
// Timing-sensitive, so its tests run one at a time.

const heartbeatIntervalMs = 200
/** A detector that declares a silent node after ~1.7 s (pause 1 s + 3 std deviations + jitter of the tick). */
const fastDetector = { threshold: 8, acceptableHeartbeatPauseMs: 1000, minStdDeviationMs: 100 }
const DETECTION_BOUND_MS = fastDetector.acceptableHeartbeatPauseMs + 3 * fastDetector.minStdDeviationMs + 2 * heartbeatIntervalMs + 2500
const fast = { heartbeatIntervalMs, failureDetector: fastDetector, reconnectMaxBackoffMs: 500, handshakeTimeoutMs: 3000 }

type Transport = 'tcp' | 'tls' | 'udp' | 'dtls'
/** Transports with certificates. */
const secured = (transport: Transport): boolean => transport === 'tls' || transport === 'dtls'

function remote(transport: Transport, extra: Partial<RemoteOptions> = {}): RemoteOptions {
  return { transport, host: '127.0.0.1', port: 0, ...fast, ...(secured(transport) ? { tls: trustedTls() } : {}), ...extra }
}

function spawn(transport: Transport, extra: { port?: number; remote?: Record<string, unknown> } = {}): Promise<TestNode> {
  return spawnNode({
    name: 'B',
    transport,
    ...(secured(transport) ? { tls: 'trusted' as const } : {}),
    ...(extra.port !== undefined ? { port: extra.port } : {}),
    remote: { ...fast, ...extra.remote },
  })
}

const portOf = (address: string): number => Number(address.split(':').pop())

function record<E>(system: ActorSystem, name: 'quarantined' | 'dropped'): E[] {
  const out: E[] = []
  system.events.on(name, (e) => out.push(e as E))
  return out
}

/** Sum of the messages that `dropped` events stand for. */
const droppedCount = (events: DroppedEvent[]): number => events.reduce((n, e) => n + (e.count ?? 1), 0)

// ------------------------------------------------------------------------------------------ crash

for (const transport of ['tcp', 'tls', 'udp', 'dtls'] as const) {
  test.serial(
    `${transport}: a node killed with SIGKILL is declared down, and its watchers told, within the bound of its transport`,
    async (t) => {
      const b = await spawn(transport)
      const a = await ActorSystem.create('A', { remote: remote(transport) })
      t.teardown(async () => {
        await a.terminate()
        await b.kill()
      })
      const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
      const w = watchFrom(a, ref)
      await w.ready
      await sleep(1000) // the watch arrives, the detector has a history
      const killedAt = performance.now()
      await b.kill('SIGKILL')
      const { msg, at } = await w.terminated
      const elapsed = at - killedAt
      // tcp and tls: the reset connection and the refused reconnect prove it; udp: the port unreachable
      // that answers the next heartbeat, on the peer's own socket; dtls: only the detector can tell.
      // (Windows gives udp peers no socket of their own: the detector there too.)
      const bound = transport === 'dtls' || (transport === 'udp' && process.platform === 'win32') ? DETECTION_BOUND_MS : 1000
      t.log(`${transport}: Terminated ${elapsed.toFixed(0)} ms after SIGKILL (bound ${bound} ms)`)
      t.true(msg.addressTerminated)
      t.true(elapsed < bound, `took ${elapsed} ms`)
    },
  )
}

// ---------------------------------------------------------------------------------------- restart

for (const transport of ['tcp', 'tls', 'udp', 'dtls'] as const) {
  test.serial(
    `${transport}: one resolveOne issued when a killed node listens again finds its new incarnation, quarantined or not`,
    async (t) => {
      // A slow detector: over udp the old incarnation is not yet declared down when the new one listens.
      const slow = { failureDetector: { ...fastDetector, acceptableHeartbeatPauseMs: 20_000 } }
      const b1 = await spawn(transport, { remote: slow })
      const a = await ActorSystem.create('A', { remote: remote(transport, slow) })
      let b2: TestNode | undefined
      t.teardown(async () => {
        await a.terminate()
        await b1.kill()
        await b2?.kill()
      })
      const old = await a.actorSelection(`${b1.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
      const quarantined = record<QuarantinedEvent>(a, 'quarantined')
      await b1.kill('SIGKILL')
      b2 = await spawn(transport, { port: portOf(b1.address), remote: slow })
      const listening = performance.now()
      const echo = await a.actorSelection(`${b2.address}/user/echo`).resolveOne({ timeoutMs: 15_000 })
      t.is(await a.ask(echo, 'found you', { timeoutMs: 5000 }), 'found you')
      t.log(
        `${transport}: resolveOne + ask succeeded ${(performance.now() - listening).toFixed(0)} ms after the restarted node listened (old uid ${quarantined.length > 0 ? `quarantined: ${quarantined[0]?.reason}` : 'not quarantined yet'})`,
      )
      t.is(String(quarantined.at(-1)?.remoteUid), b1.uid, 'the old incarnation ended')
      const before = a.deadLetterCount
      old.tell('to the old incarnation')
      t.is(a.deadLetterCount, before + 1, 'a ref to an actor of the old incarnation stays dead')
    },
  )
}

// ------------------------------------------------------------------------------------- partitions

/** Watches and unwatches made during a partition, checked once it healed: exactly once, in order. */
async function watchChurn(
  a: ActorSystem,
  b: ActorSystem,
  names: string[],
): Promise<{ start(): void; unwatch(name: string): void; terminated: string[] }> {
  for (const n of names) b.actorOf(() => {}, n)
  const refs = new Map<string, ActorRef>()
  for (const n of names) refs.set(n, await a.actorSelection(`${b.address.toString()}/user/${n}`).resolveOne({ timeoutMs: 5000 }))
  const terminated: string[] = []
  const watcher = a.actorOf((m, ctx) => {
    if (m === 'watch') for (const r of refs.values()) ctx.watch(r)
    else if (typeof m === 'string') ctx.unwatch(refs.get(m) as ActorRef)
    else if (m instanceof Terminated) terminated.push(m.ref.path.name)
  })
  return { start: () => watcher.tell('watch'), unwatch: (name) => watcher.tell(name), terminated }
}

/** An actor of `b` that counts numbered messages and their order. */
function sink(b: ActorSystem): { readonly received: number[] } {
  const received: number[] = []
  b.actorOf((m) => {
    received.push(m as number)
  }, 'sink')
  return { received }
}

test.serial(
  'a partition shorter than the detector allows heals with no quarantine: system messages exactly once and in order, user messages all delivered',
  async (t) => {
    const { a, b, toA, toB } = await proxiedPair(t, {
      remote: { ...fast, failureDetector: { ...fastDetector, acceptableHeartbeatPauseMs: 4000 } },
    })
    const names = ['x0', 'x1', 'x2', 'x3']
    const churn = await watchChurn(a, b, names)
    const box = sink(b)
    const sinkRef = await a.actorSelection(`${b.address.toString()}/user/sink`).resolveOne({ timeoutMs: 5000 })
    const quarantined = [...record<QuarantinedEvent>(a, 'quarantined'), ...record<QuarantinedEvent>(b, 'quarantined')]
    const dropped = [...record<DroppedEvent>(a, 'dropped'), ...record<DroppedEvent>(b, 'dropped')]
    toA.blackhole('both')
    toB.blackhole('both')
    churn.start()
    churn.unwatch('x2') // must arrive after its watch
    for (let i = 1; i <= 500; i++) sinkRef.tell(i)
    await sleep(1500)
    toA.heal()
    toB.heal()
    await eventually(
      'all user messages',
      async () => {
        if (box.received.length < 500) throw new Error(`${box.received.length}`)
      },
      10_000,
      50,
    )
    t.deepEqual(
      box.received,
      Array.from({ length: 500 }, (_, i) => i + 1),
      'every user message, in order',
    )
    for (const n of names) b.stop(b.resolveActorRef(`${b.address.toString()}/user/${n}`))
    await eventually(
      'Terminated',
      async () => {
        if (churn.terminated.length < 3) throw new Error('')
      },
      5000,
      50,
    )
    await sleep(300) // a duplicate would arrive now
    t.deepEqual([...churn.terminated].sort(), ['x0', 'x1', 'x3'], 'each watch exactly once, the unwatch after its watch')
    t.deepEqual(quarantined, [])
    t.deepEqual(dropped, [])
  },
)

for (const transport of ['tcp', 'udp', 'dtls'] as const)
  test.serial(
    `${transport}: a partition longer than the detector allows: both sides quarantine, then the pair heals by itself under a new uid, and nothing is lost silently`,
    async (t) => {
      const { a, b, toA, toB } = await proxiedPair(t, { transport, remote: fast })
      a.actorOf((m, ctx) => {
        ctx.sender?.tell(m)
      }, 'echo')
      b.actorOf((m, ctx) => {
        ctx.sender?.tell(m)
      }, 'echo')
      const box = sink(b)
      const sinkRef = a.resolveActorRef(`${b.address.toString()}/user/sink`)
      await a.actorSelection(`${b.address.toString()}/user/sink`).resolveOne({ timeoutMs: 5000 })
      // Each side watches an actor of the other, so both monitor the other (nobody would, otherwise).
      const wa = watchFrom(a, await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 }))
      const wb = watchFrom(b, await b.actorSelection(`${a.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 }))
      await Promise.all([wa.ready, wb.ready])
      await sleep(300) // the watches arrive
      const qa = record<QuarantinedEvent>(a, 'quarantined')
      const qb = record<QuarantinedEvent>(b, 'quarantined')
      const da = record<DroppedEvent>(a, 'dropped')
      const db = record<DroppedEvent>(b, 'dropped')
      toA.blackhole('both')
      toB.blackhole('both')
      const start = performance.now()
      let sent = 0
      while (performance.now() - start < 4000) {
        sinkRef.tell(++sent)
        await sleep(20)
      }
      toA.heal()
      toB.heal()
      const healedAt = performance.now()
      t.true(
        qa.some((e) => /unreachable/.test(e.reason) && e.byPeer !== true),
        'A quarantined B',
      )
      t.true(
        qb.some((e) => /unreachable/.test(e.reason) && e.byPeer !== true),
        'B quarantined A',
      )
      // Nobody sends after the heal: the probes of the quarantined addresses find out, and the pair heals.
      const echoOfB = await eventually(
        'A resolves and asks B again',
        async () => {
          const r = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 1000 })
          return a.ask(r, 'a to b', { timeoutMs: 1000 })
        },
        20_000,
      )
      const echoOfA = await eventually(
        'B resolves and asks A again',
        async () => {
          const r = await b.actorSelection(`${a.address.toString()}/user/echo`).resolveOne({ timeoutMs: 1000 })
          return b.ask(r, 'b to a', { timeoutMs: 1000 })
        },
        20_000,
      )
      t.is(echoOfB, 'a to b')
      t.is(echoOfA, 'b to a')
      t.log(`healed ${(performance.now() - healedAt).toFixed(0)} ms after the partition ended`)
      t.true(
        [...qa, ...qb].some((e) => e.byPeer === true),
        'one side learned it was quarantined and took a new uid',
      )
      await sleep(500)
      // Every message sent during the partition arrived or is counted, on one side or the other.
      const counted = droppedCount(da) + droppedCount(db)
      t.log(`sent ${sent}, delivered ${box.received.length}, counted as dropped ${counted}`)
      t.true(box.received.length + counted >= sent, `${box.received.length} + ${counted} < ${sent}`)
      // Frames of the old pair still in flight at the heal never reach the new pair's codec.
      t.deepEqual(
        [...da, ...db].filter((e) => /decode failed/.test(e.reason)),
        [],
      )
    },
  )

// --------------------------------------------------------------------------------- hung processes

test.serial('a node stopped (SIGSTOP) for less than the detector allows is judged by nobody, and goes on', async (t) => {
  const tolerant = { failureDetector: { ...fastDetector, acceptableHeartbeatPauseMs: 3000 } }
  const b = await spawn('tcp', { remote: tolerant })
  const a = await ActorSystem.create('A', { remote: remote('tcp', tolerant) })
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  t.teardown(async () => {
    await a.terminate()
    b.process.kill('SIGCONT')
    await b.kill()
  })
  const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await b.command('ask', { path: `${a.address.toString()}/user/echo` }), 'ping')
  const qa = record<QuarantinedEvent>(a, 'quarantined')
  await b.kill('SIGSTOP')
  await sleep(1500)
  await b.kill('SIGCONT')
  t.is(await a.ask(echo, 'still there', { timeoutMs: 5000 }), 'still there')
  t.is(await b.command('ask', { path: `${a.address.toString()}/user/echo` }), 'ping')
  t.deepEqual(qa, [])
  t.deepEqual(
    b.events.filter((e) => e.name === 'quarantined'),
    [],
  )
})

test.serial(
  'a node stopped (SIGSTOP) for longer is declared down by its peers; once resumed it judges nobody, learns it was quarantined, and comes back',
  async (t) => {
    const b = await spawn('tcp')
    const a = await ActorSystem.create('A', { remote: remote('tcp') })
    a.actorOf((m, ctx) => {
      ctx.sender?.tell(m)
    }, 'echo')
    t.teardown(async () => {
      await a.terminate()
      b.process.kill('SIGCONT')
      await b.kill()
    })
    const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
    t.is(await b.command('ask', { path: `${a.address.toString()}/user/echo` }), 'ping')
    const w = watchFrom(a, echo)
    await w.ready
    await sleep(500)
    const stoppedAt = performance.now()
    await b.kill('SIGSTOP')
    const { msg, at } = await w.terminated
    t.true(msg.addressTerminated)
    t.true(at - stoppedAt < DETECTION_BOUND_MS)
    await sleep(1000)
    await b.kill('SIGCONT')
    const byPeer = await b.waitFor((e) => e.name === 'quarantined' && e.byPeer === true, 10_000)
    t.regex(String(byPeer.reason), /quarantined this node/)
    // Back: both ways, without restarting the process.
    t.is(await eventually('B asks A again', () => b.command('ask', { path: `${a.address.toString()}/user/echo` }), 10_000), 'ping')
    const again = await eventually(
      'A resolves B again',
      () => a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 1000 }),
      10_000,
    )
    t.is(await a.ask(again, 'back', { timeoutMs: 5000 }), 'back')
    // The resumed node held its own silence against nobody.
    t.deepEqual(
      b.events.filter((e) => e.name === 'quarantined' && e.byPeer !== true),
      [],
    )
  },
)

// ---------------------------------------------------------------------------- reconnects under load

test.serial(
  '10 forced reconnects under load: system messages exactly once and in order, every user message delivered or counted as lost',
  async (t) => {
    const { a, b, toA, toB } = await proxiedPair(t, { remote: fast })
    const names = Array.from({ length: 10 }, (_, i) => `y${i}`)
    const churn = await watchChurn(a, b, names)
    const box = sink(b)
    const sinkRef = await a.actorSelection(`${b.address.toString()}/user/sink`).resolveOne({ timeoutMs: 5000 })
    churn.start()
    let sent = 0
    for (let cut = 0; cut < 10; cut++) {
      for (let i = 0; i < 300; i++) sinkRef.tell(++sent)
      if (cut % 2 === 1) churn.unwatch(`y${cut}`)
      await sleep(40)
      toB.cut()
      if (cut % 3 === 0) toA.cut()
      await sleep(120)
    }
    for (let i = 0; i < 100; i++) sinkRef.tell(++sent) // a last burst shows the gaps of the last cut
    const lost = (): number => b.associations().reduce((n, x) => n + x.lostInTransit, 0)
    await eventually(
      'quiet',
      async () => {
        if (box.received.length + lost() < sent) throw new Error(`${box.received.length} + ${lost()} of ${sent}`)
      },
      10_000,
      100,
    )
    const received = box.received
    t.true(
      received.every((n, i) => i === 0 || n > (received[i - 1] as number)),
      'in order',
    )
    t.log(
      `sent ${sent}, delivered ${received.length}, lost in transit (counted by B) ${lost()}, connections opened ${toB.connections + toA.connections}`,
    )
    t.is(received.length + lost(), sent, 'delivered + counted = sent, exactly')
    for (const n of names) b.stop(b.resolveActorRef(`${b.address.toString()}/user/${n}`))
    const expected = names.filter((_, i) => i % 2 === 0)
    await eventually(
      'Terminated',
      async () => {
        if (churn.terminated.length < expected.length) throw new Error('')
      },
      10_000,
      50,
    )
    await sleep(400)
    t.deepEqual([...churn.terminated].sort(), expected, 'watched ones once each, unwatched ones never')
  },
)

// ---------------------------------------------------------------------------- spoofed restart claims

test.serial('a restart claim spoofed every 100 ms costs a live association nothing: no quarantine, no lost ping', async (t) => {
  const a = await ActorSystem.create('A', { remote: remote('tcp') })
  const b = await ActorSystem.create('B', { remote: remote('tcp') })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const quarantined = record<QuarantinedEvent>(a, 'quarantined')
  const refusals: string[] = []
  a.events.on('handshakeFailed', (e) => refusals.push(e.reason))
  const codec = new Codec()
  let spoofs = 0
  const spoofer = setInterval(() => {
    // One ~100-byte handshake from another socket claiming to be B, restarted.
    const claim = codec.encode({
      type: 'handshake-request',
      from: { address: b.address.toString(), uid: BigInt(1000 + spoofs++) },
      to: a.address.toString(),
      nonce: 1n,
      session: 1,
      toSession: 0,
    })
    const s = connect(a.address.port as number, '127.0.0.1', () => s.write(Buffer.concat([encodePreamble(Lane.control), frame(claim)])))
    s.on('error', () => {})
    setTimeout(() => s.destroy(), 1000)
  }, 100)
  let answered = 0
  let pings = 0
  const until = performance.now() + 3000
  while (performance.now() < until) {
    pings++
    if ((await a.ask(echo, pings, { timeoutMs: 2000 }).catch(() => undefined)) === pings) answered++
    await sleep(20)
  }
  clearInterval(spoofer)
  t.log(`${spoofs} spoofed claims, ${pings} pings, ${answered} answered, ${refusals.length} refusals published`)
  t.is(answered, pings, 'no ping lost')
  t.deepEqual(quarantined, [])
  t.true(refusals.some((r) => /restart claim of .* refused: uid \d+ still answers/.test(r)))
  t.is(a.associations().find((x) => x.remote.toString() === b.address.toString())?.remoteUid, b.nodeUid)
})
