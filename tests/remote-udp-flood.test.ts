/**
 * udp peer sockets (`remote.udpPeerSockets`): an established peer gets a socket of its own on the
 * node's port, so that a flood from another associated peer, which fills the node's shared
 * receive buffer, makes the kernel drop none of its datagrams. The flood is sent in one turn of the
 * event loop, before the node reads anything: what does not fit in a receive buffer is lost.
 */
import test, { type ExecutionContext } from 'ava'
import { readFileSync } from 'node:fs'
import { ActorSystem, type AssociationInfo } from '@helios/actors'
import { Codec, DisassociateReason } from '@helios/codec'
import { nodeTarget, UdpIdentity } from './support/attacks.js'

const codec = new Codec({ maxFrameSize: 256 * 1024 })

/**
 * The remote ports of the connected UDP sockets on local port `port` (Linux, /proc/net/udp): the
 * peer sockets a node opened, seen from outside the process.
 */
function connectedTo(port: number): number[] {
  const out: number[] = []
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 3) continue
      const local = Number.parseInt((f[1] as string).split(':')[1] as string, 16)
      const remote = Number.parseInt((f[2] as string).split(':')[1] as string, 16)
      if (local === port && remote !== 0) out.push(remote)
    }
  }
  return out.sort((x, y) => x - y)
}

const waitFor = async (cond: () => boolean, ms = 10_000): Promise<boolean> => {
  const until = Date.now() + ms
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  return cond()
}

async function victim(t: ExecutionContext, udpPeerSockets: number) {
  const system = await ActorSystem.create('Victim', {
    logger: 'silent',
    remote: { transport: 'udp', host: '127.0.0.1', port: 0, udpPeerSockets },
  })
  t.teardown(() => system.terminate())
  const got = new Map<string, number>()
  system.actorOf((m) => {
    const from = String(m).split(':')[0] as string
    got.set(from, (got.get(from) ?? 0) + 1)
  }, 'sink')
  const target = nodeTarget(system.address.toString(), system.nodeUid)
  const info = (name: string): AssociationInfo | undefined => system.associations().find((a) => a.remote.system === name)
  return { system, target, got, info }
}

const peerPort = (id: UdpIdentity): number => id.socket.address().port

async function identity(t: ExecutionContext, target: ReturnType<typeof nodeTarget>, name: string): Promise<UdpIdentity> {
  const id = await UdpIdentity.bind(target, name, true)
  t.teardown(() => id.close())
  t.true(await id.introduce(5000), `${name} is established`)
  return id
}

/** Frames of user envelopes to the sink, `name:k` each padded to `bytes`, numbered from `first`. */
function envelopes(target: ReturnType<typeof nodeTarget>, name: string, first: number, count: number, bytes: number): Uint8Array[][] {
  const pad = 'x'.repeat(bytes)
  return Array.from({ length: count }, (_, k) => [
    codec.encode({
      type: 'user-envelope',
      seq: first + k,
      recipient: `${target.address}/user/sink`,
      sender: undefined,
      message: `${name}:${k}:${pad}`,
    }),
  ])
}

async function floodThenSend(flooder: UdpIdentity, peer: UdpIdentity, flood: Uint8Array[][], pings: Uint8Array[][]): Promise<void> {
  // One synchronous loop: every send reaches the kernel before the node reads one datagram.
  const sent = [...flood.map((f) => flooder.sendFrames(f)), ...pings.map((p) => peer.sendFrames(p))]
  await Promise.all(sent)
}

test('udp: an established peer gets its own socket, and loses nothing to a flood from another associated peer', async (t) => {
  const { target, got, info } = await victim(t, 8)
  const flooder = await identity(t, target, 'Flooder')
  const peer = await identity(t, target, 'Peer')
  // Its first datagram after the handshake gives it its socket.
  await peer.sendFrames(envelopes(target, 'Peer', 1, 1, 8)[0] as Uint8Array[])
  t.true(await waitFor(() => info('Peer')?.ownSocket === true), 'the peer has its own socket')
  t.true(await waitFor(() => got.get('Peer') === 1))
  t.true(connectedTo(target.port).includes(peerPort(peer)), 'a connected socket on the node port, to the peer')

  await floodThenSend(flooder, peer, envelopes(target, 'Flooder', 1, 10_000, 1024), envelopes(target, 'Peer', 2, 20, 8))
  t.true(await waitFor(() => got.get('Peer') === 21), `the peer's 20 messages arrived: ${(got.get('Peer') ?? 0) - 1}`)
  await new Promise((r) => setTimeout(r, 200))
  // The flood itself overflowed the buffer it landed in.
  const flooded = got.get('Flooder') ?? 0
  t.true(flooded < 10_000, `${flooded} of the 10,000 flood messages arrived`)
  t.is(got.get('Peer'), 21)
})

test("udp: without peer sockets, the same flood makes the kernel drop the other peer's datagrams", async (t) => {
  // The control case: it shows the flood fills the shared buffer, so the test above could fail.
  const { target, got, info } = await victim(t, 0)
  const flooder = await identity(t, target, 'Flooder')
  const peer = await identity(t, target, 'Peer')
  await peer.sendFrames(envelopes(target, 'Peer', 1, 1, 8)[0] as Uint8Array[])
  t.true(await waitFor(() => got.get('Peer') === 1))
  t.false(info('Peer')?.ownSocket)
  await floodThenSend(flooder, peer, envelopes(target, 'Flooder', 1, 10_000, 1024), envelopes(target, 'Peer', 2, 20, 8))
  await new Promise((r) => setTimeout(r, 1000))
  const arrived = (got.get('Peer') ?? 0) - 1
  t.true(arrived < 20, `${arrived} of the peer's 20 messages arrived`)
})

test('udp: a peer socket closes when its association ends', async (t) => {
  const { system, target, got, info } = await victim(t, 8)
  const peer = await identity(t, target, 'Peer')
  await peer.sendFrames(envelopes(target, 'Peer', 1, 1, 8)[0] as Uint8Array[])
  t.true(await waitFor(() => info('Peer')?.ownSocket === true))
  // The peer leaves for good: it tells the node, which quarantines that incarnation.
  await peer.sendFrames([codec.encode({ type: 'disassociate', reason: DisassociateReason.shutdown, detail: 'leaving' })])
  t.true(await waitFor(() => info('Peer')?.state === 'quarantined' || info('Peer') === undefined), `state ${info('Peer')?.state}`)
  t.true(await waitFor(() => info('Peer')?.ownSocket !== true), 'its socket closed')
  t.is(got.get('Peer'), 1)
  t.true(system.associations().every((a) => !a.ownSocket))
  t.true(await waitFor(() => connectedTo(target.port).length === 0), 'no connected socket left on the node port')
})

test("udp: a source that claims an established peer's identity gets no socket of its own", async (t) => {
  const { target, got, info } = await victim(t, 8)
  const peer = await identity(t, target, 'Peer')
  await peer.sendFrames(envelopes(target, 'Peer', 1, 1, 8)[0] as Uint8Array[])
  t.true(await waitFor(() => info('Peer')?.ownSocket === true))
  // Another port claims the peer's address under a new uid (as a restarted peer would): the node
  // asks the address, which does not confirm; meanwhile the claimant's datagrams are its word only.
  const claimant = await UdpIdentity.bind(target, 'Peer', false, { host: '127.0.0.1', port: peerPort(peer) })
  t.teardown(() => claimant.close())
  await claimant.hello()
  for (let i = 0; i < 5; i++) {
    await claimant.sendFrames([codec.encode({ type: 'ack', cumulative: 0, selective: [] })])
    await new Promise((r) => setTimeout(r, 50))
  }
  await new Promise((r) => setTimeout(r, 300))
  t.deepEqual(connectedTo(target.port), [peerPort(peer)], 'only the peer that answered the handshake has one')
  t.is(info('Peer')?.state, 'established')
  t.is(got.get('Peer'), 1)
})
