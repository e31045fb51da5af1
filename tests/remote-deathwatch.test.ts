import test from 'ava'
import { ActorSystem, type RemoteOptions } from '@helios/actors'
import { spawnNode } from './support/node.js'
import { watchFrom } from './support/watch.js'

// A fast failure detector so that the tests take seconds: heartbeats every 200 ms, 1 s of
// acceptable pause. With Akka's formula phi passes 8 roughly `pause + 3 * minStdDeviation` after
// the last heartbeat; the bound asserted below leaves room for a loaded 2-core CI machine.
const heartbeatIntervalMs = 200
const failureDetector = { threshold: 8, acceptableHeartbeatPauseMs: 1000, minStdDeviationMs: 100 }
const DETECTION_BOUND_MS = 1000 + 3 * 100 + 2 * heartbeatIntervalMs + 2500

const fast = { heartbeatIntervalMs, failureDetector, reconnectMaxBackoffMs: 500 }

function remote(extra: Partial<RemoteOptions> = {}): RemoteOptions {
  return { transport: 'tcp', host: '127.0.0.1', port: 0, ...fast, ...extra }
}

test('a watcher gets Terminated when the remote actor stops', async (t) => {
  const b = await spawnNode({ name: 'B', transport: 'tcp', remote: fast })
  const a = await ActorSystem.create('A', { remote: remote() })
  t.teardown(async () => {
    await a.terminate()
    await b.kill()
  })
  const path = await b.command<string>('spawn', { name: 'victim' })
  const ref = await a.actorSelection(path.split('#')[0] as string).resolveOne({ timeoutMs: 5000 })
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 200)) // the watch travels as a system message
  await b.command('stop', { name: 'victim' })
  const { msg } = await w.terminated
  t.true(msg.ref.equals(ref))
  t.true(msg.existenceConfirmed)
  t.false(msg.addressTerminated)
})

test('a peer killed with SIGKILL is declared down at once: its reset connection and the refused reconnect prove it gone', async (t) => {
  const b = await spawnNode({ name: 'B', transport: 'tcp', remote: fast })
  const a = await ActorSystem.create('A', { remote: remote() })
  t.teardown(async () => {
    await a.terminate()
    await b.kill()
  })
  const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 300)) // the watch travels as a system message
  const quarantined = new Promise<{ reason: string }>((resolve) => a.events.once('quarantined', resolve))
  const killedAt = performance.now()
  await b.kill('SIGKILL')
  const { msg, at } = await w.terminated
  const elapsed = at - killedAt
  // Nothing to wait for but a reconnect attempt: far below the failure detector's bound.
  t.log(`Terminated ${elapsed.toFixed(0)} ms after SIGKILL (detector bound ${DETECTION_BOUND_MS} ms)`)
  t.true(msg.addressTerminated)
  t.true(elapsed < 1000, `took ${elapsed} ms`)
  t.regex((await quarantined).reason, /^down: 127\.0\.0\.1:\d+ refused the connection after the connection to it was lost$/)
})

test('with downOnConnectionRefused off, a peer killed with SIGKILL is declared down by the failure detector within its bound', async (t) => {
  const b = await spawnNode({ name: 'B', transport: 'tcp', remote: fast })
  const a = await ActorSystem.create('A', { remote: remote({ downOnConnectionRefused: false }) })
  t.teardown(async () => {
    await a.terminate()
    await b.kill()
  })
  const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 1000)) // a few heartbeats
  const quarantined = new Promise<{ reason: string }>((resolve) => a.events.once('quarantined', resolve))
  const killedAt = performance.now()
  await b.kill('SIGKILL')
  const { msg, at } = await w.terminated
  const elapsed = at - killedAt
  t.log(`Terminated ${elapsed.toFixed(0)} ms after SIGKILL (bound ${DETECTION_BOUND_MS} ms)`)
  t.true(msg.addressTerminated)
  t.true(elapsed < DETECTION_BOUND_MS, `took ${elapsed} ms`)
  t.regex((await quarantined).reason, /unreachable/)
})

// Peer sockets (and so the port unreachable) are off on Windows.
const udpPeerSocketTest = process.platform === 'win32' ? test.skip : test
for (const down of [true, false]) {
  udpPeerSocketTest(
    `udp: a peer killed with SIGKILL is declared down ${down ? 'at the next heartbeat: its port answers with port unreachable' : 'by the failure detector with downOnConnectionRefused off'}`,
    async (t) => {
      const b = await spawnNode({ name: 'B', transport: 'udp', remote: fast })
      const a = await ActorSystem.create('A', { remote: remote({ transport: 'udp', downOnConnectionRefused: down }) })
      t.teardown(async () => {
        await a.terminate()
        await b.kill()
      })
      const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
      const w = watchFrom(a, ref)
      await w.ready
      await new Promise((r) => setTimeout(r, 1000)) // a few heartbeats
      t.true(
        a.associations().some((x) => x.ownSocket),
        "B's datagrams come through a socket of its own",
      )
      const quarantined = new Promise<{ reason: string }>((resolve) => a.events.once('quarantined', resolve))
      const killedAt = performance.now()
      await b.kill('SIGKILL')
      const { msg, at } = await w.terminated
      const elapsed = at - killedAt
      t.log(`udp: Terminated ${elapsed.toFixed(0)} ms after SIGKILL (detector bound ${DETECTION_BOUND_MS} ms)`)
      t.true(msg.addressTerminated)
      if (down) {
        t.true(elapsed < 1000, `took ${elapsed} ms`)
        t.regex((await quarantined).reason, /^down: 127\.0\.0\.1:\d+ answered with port unreachable \(nothing listens there any more\)$/)
      } else {
        t.true(elapsed >= 1000 && elapsed < DETECTION_BOUND_MS, `took ${elapsed} ms`)
        t.regex((await quarantined).reason, /unreachable/)
        t.notRegex((await quarantined).reason, /port unreachable/)
      }
    },
  )
}

test('a hung peer (SIGSTOP, sockets open) is declared unreachable and quarantined', async (t) => {
  const b = await spawnNode({ name: 'B', transport: 'tcp', remote: fast })
  const a = await ActorSystem.create('A', { remote: remote() })
  t.teardown(async () => {
    await a.terminate()
    b.process.kill('SIGCONT')
    await b.kill()
  })
  const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 1000))
  const unreachable = new Promise<{ phi: number }>((resolve) => a.events.once('unreachable', resolve))
  const stoppedAt = performance.now()
  await b.kill('SIGSTOP')
  const { msg, at } = await w.terminated
  t.true(msg.addressTerminated)
  t.true((await unreachable).phi >= failureDetector.threshold)
  t.log(`Terminated ${(at - stoppedAt).toFixed(0)} ms after SIGSTOP`)
  t.true(at - stoppedAt < DETECTION_BOUND_MS)
  // Messages to the quarantined node are not queued: they go to dead letters.
  const before = a.deadLetterCount
  ref.tell('after quarantine')
  t.is(a.deadLetterCount, before + 1)
  // A watch made after the quarantine is answered at once.
  const late = watchFrom(a, ref)
  const { msg: lateMsg } = await late.terminated
  t.true(lateMsg.addressTerminated)
})

test('a peer restarted on the same port (new uid) is recognised once its new uid answers at the address', async (t) => {
  // A slow detector and no down-on-refused: only the new uid answering A's reconnect can explain a quick Terminated.
  const slow = {
    heartbeatIntervalMs: 200,
    failureDetector: { acceptableHeartbeatPauseMs: 20_000 },
    reconnectMaxBackoffMs: 300,
    downOnConnectionRefused: false,
  }
  const b1 = await spawnNode({ name: 'B', transport: 'tcp', remote: slow })
  const port = Number(b1.address.split(':').pop())
  const a = await ActorSystem.create('A', { remote: remote(slow) })
  let b2: Awaited<ReturnType<typeof spawnNode>> | undefined
  t.teardown(async () => {
    await a.terminate()
    await b1.kill()
    await b2?.kill()
  })
  const ref = await a.actorSelection(`${b1.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 300))
  const quarantined = new Promise<{ reason: string; remoteUid?: bigint | undefined }>((resolve) => a.events.once('quarantined', resolve))
  await b1.kill('SIGKILL')
  b2 = await spawnNode({ name: 'B', transport: 'tcp', port, remote: slow })
  t.not(b2.uid, b1.uid)
  const { msg } = await w.terminated
  t.true(msg.addressTerminated)
  const q = await quarantined
  t.regex(q.reason, /restarted/)
  t.is(String(q.remoteUid), b1.uid)
  // The new incarnation gets a fresh association; the old incarnation's ref is dead.
  const fresh = await a.actorSelection(`${b2.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(fresh, 'again', { timeoutMs: 5000 }), 'again')
  const before = a.deadLetterCount
  ref.tell('to the old incarnation')
  t.is(a.deadLetterCount, before + 1)
})

test('a watch sent before the association exists is not lost', async (t) => {
  const a = await ActorSystem.create('A', { remote: remote() })
  const b = await ActorSystem.create('B', { remote: remote() })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  const target = b.actorOf(() => {}, 'target')
  // No selection, no ask: the watch is the first thing A ever sends to B.
  const ref = a.resolveActorRef(`${b.address.toString()}/user/target`)
  const w = watchFrom(a, ref)
  await w.ready
  await new Promise((r) => setTimeout(r, 300))
  b.stop(target)
  const { msg } = await w.terminated
  t.false(msg.addressTerminated)
})

test('watching an actor on a node that never answers ends with Terminated after the handshake timeout', async (t) => {
  const a = await ActorSystem.create('A', { remote: remote({ handshakeTimeoutMs: 500 }) })
  const closed = await ActorSystem.create('Gone', { remote: remote() })
  const address = closed.address.toString()
  await closed.terminate()
  t.teardown(() => a.terminate())
  const ref = a.resolveActorRef(`${address}/user/x`)
  const w = watchFrom(a, ref)
  const { msg } = await w.terminated
  t.true(msg.addressTerminated)
})
