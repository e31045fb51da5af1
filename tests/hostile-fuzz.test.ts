/**
 * The quick hostile suite's fuzz case: a live node (in a process of its own) gets mutated frames of
 * every kind for a few seconds (tests/support/attacks.ts fuzzNode: preambles, handshakes, every PDU,
 * fragments, compression advertisements, hostile msgpack), while a legitimate association keeps its
 * ping-pong with it. Nothing of the ping-pong may be lost, and the node must never crash.
 *
 * The seed of each run is logged; HELIOS_FUZZ_SEED=<n> replays it. HELIOS_FUZZ_SECONDS sets the
 * length (default 4).
 */
import test, { type ExecutionContext } from 'ava'
import { ActorSystem } from '@helios/actors'
import { FUZZ_KINDS, fuzzNode, nodeTarget, startPings } from './support/attacks.js'
import { spawnNode } from './support/node.js'

const seconds = Number(process.env.HELIOS_FUZZ_SECONDS ?? 4)
const fixedSeed = process.env.HELIOS_FUZZ_SEED === undefined ? undefined : Number(process.env.HELIOS_FUZZ_SEED)

async function fuzzWhilePinging(t: ExecutionContext, transport: 'tcp' | 'udp'): Promise<void> {
  const node = await spawnNode({ name: 'Victim', transport })
  t.teardown(() => node.kill())
  const peer = await ActorSystem.create('Peer', { logger: 'silent', remote: { transport, host: '127.0.0.1', port: 0 } })
  t.teardown(() => peer.terminate())
  const echo = await peer.actorSelection(`${node.address}/user/echo`).resolveOne({ timeoutMs: 10_000 })
  // a ping counts as lost only when unanswered for 15 s: a loaded machine slows it, never loses it
  const pings = startPings(peer, echo, { intervalMs: 20, timeoutMs: 15_000 })

  // udp: 1,000 datagrams/s (about 2 MB/s) stays far below what the node's 4 MiB socket buffer
  // absorbs while it is busy: a fuzz, not a flood (bench:hostile's udpflood row is the flood)
  const stats = await fuzzNode(nodeTarget(node.address, BigInt(node.uid)), {
    seconds,
    datagramsPerSecond: 1000,
    ...(fixedSeed !== undefined ? { seed: fixedSeed } : {}),
  })
  t.log(
    `${transport}: seed ${stats.seed}, ${stats.connections} connections, ${stats.datagrams} datagrams, ${stats.frames} frames (${stats.mutated} mutated), ${stats.bytes} bytes in ${stats.elapsedMs} ms`,
  )
  const ping = await pings.stop()
  t.log(`legitimate association: ${ping.sent} pings, ${ping.answered} answered, ${ping.lost} lost, p99 ${ping.p99Ms} ms`)

  // The node is alive, answers its parent, and still lets a new node associate.
  t.is(node.process.exitCode, null, 'the node process is alive')
  t.is(node.process.signalCode, null)
  t.is(typeof (await node.command<number>('memory')), 'number')
  const newcomer = await ActorSystem.create('Newcomer', { logger: 'silent', remote: { transport, host: '127.0.0.1', port: 0 } })
  t.teardown(() => newcomer.terminate())
  const again = await newcomer.actorSelection(`${node.address}/user/echo`).resolveOne({ timeoutMs: 10_000 })
  t.is(await newcomer.ask(again, 'after the fuzz', { timeoutMs: 10_000 }), 'after the fuzz')

  // The legitimate association lost nothing.
  t.true(ping.sent > 0)
  t.is(ping.lost, 0, `seed ${stats.seed}`)
  t.is(ping.answered, ping.sent, `seed ${stats.seed}`)

  // The fuzz did reach the node with every kind of frame, and the node refused what it had to.
  for (const kind of FUZZ_KINDS) {
    if (kind === 'preamble' && transport === 'udp') continue
    t.true((stats.byKind[kind] ?? 0) > 0, `${kind} frames sent (seed ${stats.seed})`)
  }
  t.true(stats.mutated > 100)
  t.true(
    node.events.some((e) => e.name === 'handshakeFailed' || e.name === 'dropped'),
    'the node refused or dropped fuzzed frames',
  )
}

test.serial(
  'a tcp node fuzzed with mutated frames of every kind loses no ping of a legitimate association and never crashes',
  async (t) => {
    await fuzzWhilePinging(t, 'tcp')
  },
)

test.serial(
  'a udp node fuzzed with mutated datagrams of every kind loses no ping of a legitimate association and never crashes',
  async (t) => {
    await fuzzWhilePinging(t, 'udp')
  },
)
