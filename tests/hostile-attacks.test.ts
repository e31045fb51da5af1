/**
 * The attacks of tests/support/attacks.ts do what they say (they are shared by the hostile tests
 * and bench:hostile, and a bound asserted under an attack that no longer reaches the node would
 * prove nothing): each is run, small, against a live node in this process, and the node's own
 * counters show it arrived. Nothing here judges the node's bounds; the tests of those bounds call
 * the same functions at full size.
 */
import test, { type ExecutionContext } from 'ava'
import { connect } from 'node:net'
import { ActorSystem } from '@helios/actors'
import {
  fillCompression,
  type NodeTarget,
  nodeTarget,
  parkFragments,
  strangerEnvelopes,
  Tarpit,
  UdpSink,
  udpFlood,
} from './support/attacks.js'

async function victim(
  t: ExecutionContext,
  transport: 'tcp' | 'udp',
): Promise<{ system: ActorSystem; target: NodeTarget; sunk: () => number }> {
  const system = await ActorSystem.create('Victim', { logger: 'silent', remote: { transport, host: '127.0.0.1', port: 0 } })
  t.teardown(() => system.terminate())
  let sunk = 0
  system.actorOf(() => {
    sunk++
  }, 'sink')
  return { system, target: nodeTarget(system.address.toString(), system.nodeUid), sunk: () => sunk }
}

const waitFor = async (cond: () => boolean, ms = 10_000): Promise<boolean> => {
  const until = Date.now() + ms
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  return cond()
}

const spoofed = (system: ActorSystem, prefix: string) => system.associations().filter((a) => a.remote.system.startsWith(prefix))

for (const transport of ['tcp', 'udp'] as const) {
  test(`parkFragments over ${transport}: each spoofed identity reaches the node with its fragments`, async (t) => {
    const { system, target } = await victim(t, transport)
    const attack = await parkFragments(target, { identities: 2, bytesPerIdentity: 2 ** 20, prefix: 'Park' })
    t.is(attack.identities.length, 2)
    t.true(attack.bytesSent >= 2 * 2 ** 20)
    t.true(await waitFor(() => spoofed(system, 'Park').filter((a) => a.bytesReceived >= 2 ** 20).length === 2))
    await attack.leave()
  })
}

test('parkFragments with establish: the identities are established, and quarantined once they leave', async (t) => {
  const { system, target } = await victim(t, 'tcp')
  const attack = await parkFragments(target, {
    identities: 2,
    lane: 'control',
    establish: true,
    bytesPerIdentity: 2 ** 20,
    prefix: 'Known',
  })
  t.is(attack.established, 2)
  t.true(await waitFor(() => spoofed(system, 'Known').filter((a) => a.state === 'established').length === 2))
  await attack.leave()
  t.true(await waitFor(() => spoofed(system, 'Known').filter((a) => a.state === 'quarantined').length === 2))
})

test('fillCompression: established identities advertise full tables', async (t) => {
  const { system, target } = await victim(t, 'tcp')
  const attack = await fillCompression(target, { identities: 1, entries: 512, generations: 1, prefix: 'Tables' })
  t.is(attack.established, 1)
  t.true(attack.bytesSent > 2 * 512 * 1024)
  t.true(await waitFor(() => spoofed(system, 'Tables').some((a) => a.bytesReceived > 2 * 512 * 1024)))
  await attack.leave()
})

for (const transport of ['tcp', 'udp'] as const) {
  test(`strangerEnvelopes over ${transport}: every envelope is delivered, its sender naming another node`, async (t) => {
    const { target, sunk } = await victim(t, transport)
    const third = await UdpSink.start()
    t.teardown(() => third.close())
    const attack = await strangerEnvelopes(target, {
      count: 50,
      sender: (k) => `helios.${transport}://Ghost${k}@127.0.0.1:${third.port}/user/x`,
    })
    t.teardown(() => attack.close())
    t.is(attack.sent, 50)
    t.true(await waitFor(() => sunk() === 50), `sink got ${sunk()}`)
  })
}

test('udpFlood: the flooding peer is established and its frames reach the node', async (t) => {
  const { target, sunk } = await victim(t, 'udp')
  const flood = await udpFlood(target, { frames: 500, messageBytes: 64 })
  t.true(flood.established)
  t.is(flood.datagrams, 500)
  t.true(await waitFor(() => sunk() > 0))
})

test('a Tarpit never completes a connect', async (t) => {
  const tarpit = await Tarpit.start()
  t.teardown(() => tarpit.close())
  const socket = connect({ host: tarpit.host, port: tarpit.port })
  socket.on('error', () => {})
  t.teardown(() => socket.destroy())
  let connected = false
  socket.once('connect', () => {
    connected = true
  })
  await new Promise((r) => setTimeout(r, 500))
  t.false(connected)
})
