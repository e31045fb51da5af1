import test, { type ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Codec, DisassociateReason, encodePreamble, Lane } from '@helios/codec'
import { ActorSystem, type AssociationInfo } from '@helios/actors'
import { fillCompression, nodeTarget } from './support/attacks.js'
import { frame } from './support/wire.js'

/**
 * The node's memory budget (docs/SECURITY.md): whatever number of identities park incomplete
 * fragmented messages, what they make a node hold stays within `memoryBudgetBytes` (each within
 * `peerMemoryBytes`), a legitimate large message still arrives (the stalest parked fragments make
 * room), and everything an identity held is released when it goes.
 */

const MiB = 1024 * 1024
const CHUNK = 180 * 1024

/** A port where something listens and never answers (the addresses the identities claim). */
async function silentHost(t: ExecutionContext): Promise<number> {
  const held: Socket[] = []
  const server = createServer((s) => {
    held.push(s)
    s.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of held) s.destroy()
    server.close()
  })
  return (server.address() as { port: number }).port
}

/**
 * One spoofed identity: a connection on `lane` that introduces itself as `Mallory<i>` at a silent
 * address, then sends the first `bytes` of a fragmented message that never completes.
 */
async function parkFragments(port: number, to: string, i: number, claimedPort: number, bytes: number, lane: Lane): Promise<Socket> {
  const codec = new Codec()
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.resume()
  const hello = codec.encode({
    type: 'handshake-request',
    from: { address: `helios.tcp://Mallory${i}@127.0.0.1:${claimedPort}`, uid: BigInt(1000 + i) },
    to,
    nonce: BigInt(i + 1),
    session: 1,
    toSession: 0,
  })
  const parts: Buffer[] = [Buffer.from(encodePreamble(lane)), frame(hello)]
  for (let offset = 0; offset < bytes; offset += CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, bytes - offset))
    parts.push(frame(codec.encode({ type: 'fragment', messageId: 1, totalLength: 8 * MiB, offset, chunk })))
  }
  socket.write(Buffer.concat(parts))
  return socket
}

async function settle(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check() && Date.now() < until) await sleep(20)
}

for (const lane of [Lane.user, Lane.control]) {
  const laneName = lane === Lane.user ? 'user' : 'control'
  test(`identities parking fragments on the ${laneName} lane hold no more than the budget; a large legitimate message still arrives; all is released when they go`, async (t) => {
    const a = await ActorSystem.create('A', {
      logger: 'silent',
      remote: {
        transport: 'tcp',
        host: '127.0.0.1',
        port: 0,
        memoryBudgetBytes: 4 * MiB,
        peerMemoryBytes: 3.5 * MiB,
        handshakeTimeoutMs: 30_000,
      },
    })
    const c = await ActorSystem.create('C', { logger: 'silent', remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
    t.teardown(async () => {
      await c.terminate()
      await a.terminate()
    })
    let got: Uint8Array | undefined
    a.actorOf((m) => {
      got = m as Uint8Array
    }, 'sink')
    const sink = await c.actorSelection(`${a.address}/user/sink`).resolveOne({ timeoutMs: 5000 })
    const claimed = await silentHost(t)
    const port = a.address.port as number
    // 12 identities, each parking 900 KiB (within its share of 3.5 MiB): 10.5 MiB offered, a budget of 4 MiB.
    const sockets: Socket[] = []
    for (let i = 0; i < 12; i++) sockets.push(await parkFragments(port, a.address.toString(), i, claimed, 900 * 1024, lane))
    // One more parks more than its share: refused beyond it.
    sockets.push(await parkFragments(port, a.address.toString(), 12, claimed, 4 * MiB, lane))
    await settle(() => (a.remoteMemory()?.refusals ?? 0) > 0 && (a.remoteMemory()?.evictions ?? 0) >= 8)
    const during = a.remoteMemory()
    t.log(`during: ${JSON.stringify(during)}`)
    t.truthy(during)
    t.true((during?.peakBytes ?? Infinity) <= 4 * MiB, 'never above the budget')
    t.true((during?.peakBytes ?? 0) >= 3 * MiB, 'the budget was filled')
    t.true((during?.refusals ?? 0) > 0, 'the identity that parked more than its share was refused')
    for (const info of a.associations()) t.true(info.reassemblyBytes <= 3.5 * MiB, `${info.remote}: ${info.reassemblyBytes}`)
    t.true((during?.evictions ?? 0) > 0, 'parked fragments were evicted to make room for newer ones')
    // A legitimate 3 MiB message (15 fragments) streams in: the stalest parked fragments make room.
    const big = randomBytes(3 * MiB)
    sink.tell(new Uint8Array(big))
    await settle(() => got !== undefined)
    t.is(got?.byteLength, big.byteLength)
    t.true(Buffer.from(got ?? []).equals(big))
    t.true((a.remoteMemory()?.usedBytes ?? Infinity) <= 4 * MiB)
    // One more parks a little now, so that something is surely held when they go.
    sockets.push(await parkFragments(port, a.address.toString(), 13, claimed, 2 * CHUNK, lane))
    await settle(() => (a.remoteMemory()?.reassemblyBytes ?? 0) > 0)
    t.true((a.remoteMemory()?.reassemblyBytes ?? 0) > 0)
    // The identities go (each says it shuts down, then closes): what they held goes with them.
    // Incomplete user-lane messages go when their connection closes; on the control lane they
    // go with the association (here: its end at the shutdown notice).
    const bye = frame(new Codec().encode({ type: 'disassociate', reason: DisassociateReason.shutdown, detail: '' }))
    for (const s of sockets) s.end(bye)
    await settle(() => a.remoteMemory()?.reassemblyBytes === 0)
    for (const s of sockets) s.destroy()
    t.is(a.remoteMemory()?.reassemblyBytes, 0)
    sink.tell(new Uint8Array([1, 2, 3]))
    await settle(() => got?.byteLength === 3)
    t.is(got?.byteLength, 3, 'the legitimate association goes on')
  })
}

test('a peer that does not read: the outbound queue holds at most outboundQueueBytes, beyond it messages are dropped and counted', async (t) => {
  const a = await ActorSystem.create('A', {
    logger: 'silent',
    remote: { transport: 'tcp', host: '127.0.0.1', port: 0, outboundQueueBytes: 4 * MiB },
  })
  t.teardown(() => a.terminate())
  // A "node" that accepts and never reads: the handshake never completes, so everything queues.
  const port = await silentHost(t)
  const ref = a.resolveActorRef(`helios.tcp://Stuck@127.0.0.1:${port}/user/x`)
  let dropped = 0
  let reason = ''
  a.events.on('dropped', (e) => {
    dropped += e.count ?? 1
    reason = e.reason
  })
  const payload = new Uint8Array(64 * 1024)
  for (let i = 0; i < 256; i++) ref.tell(payload) // 16 MiB offered
  const info = a.associations().find((x) => x.remote.port === port)
  t.log(`queued ${info?.queued} messages, ${info?.queuedBytes} bytes; dropped ${dropped}: ${reason}`)
  t.true((info?.queuedBytes ?? Infinity) <= 4 * MiB)
  t.true((info?.queued ?? 0) >= 60, 'about 4 MiB of 64 KiB messages queued')
  t.is((info?.queued ?? 0) + dropped, 256, 'every message queued or counted')
  t.regex(reason, /outboundQueueBytes/)
  t.is(a.remoteMemory()?.outboundBytes, info?.queuedBytes)
})

test("peers' compression tables count in the budget: advertisements beyond it are ignored (not acked), a legitimate association keeps compressing, and the tables go with the identities", async (t) => {
  const budget = 6 * MiB
  const a = await ActorSystem.create('A', {
    logger: 'silent',
    remote: { transport: 'tcp', host: '127.0.0.1', port: 0, memoryBudgetBytes: budget, handshakeTimeoutMs: 30_000 },
  })
  const c = await ActorSystem.create('C', { logger: 'silent', remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(async () => {
    await c.terminate()
    await a.terminate()
  })
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await c.actorSelection(`${a.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  for (let i = 0; i < 20; i++) t.is(await c.ask(echo, i, { timeoutMs: 5000 }), i)
  const legit = (): AssociationInfo | undefined => a.associations().find((i) => i.remote.toString() === c.address.toString())
  const before = legit()?.compression.inboundActorRefs ?? 0
  t.true(before > 0, "C's paths are compressed towards A")

  // 6 identities, each filling both tables of 2 generations with 4,096 values of 256 bytes: about
  // 12 MiB of values (more with the tables' overhead), against a budget of 6 MiB.
  const attack = await fillCompression(nodeTarget(a.address.toString()), { identities: 6, valueBytes: 256, prefix: 'Filler' })
  t.is(attack.established, 6)
  await settle(() => (a.remoteMemory()?.refusals ?? 0) > 0)
  const during = a.remoteMemory()
  t.log(`during: ${JSON.stringify(during)}`)
  t.true((during?.refusals ?? 0) > 0, 'advertisements beyond the budget were refused')
  // Admission counts the entries' values and their per-entry overhead; the tables' index arrays
  // (8 bytes a slot) are counted once applied: at most 4,096 slots x 8 bytes x 4 tables beyond.
  t.true((during?.peakBytes ?? Infinity) <= budget + 4 * 4096 * 8, `peak ${during?.peakBytes} within the budget`)
  t.true((during?.compressionBytes ?? 0) >= budget / 2, 'the tables did fill the budget')

  // The legitimate association goes on, compressed both ways; a new actor's path is compressed too.
  for (let i = 0; i < 20; i++) t.is(await c.ask(echo, `after ${i}`, { timeoutMs: 5000 }), `after ${i}`)
  t.true((legit()?.compression.inboundActorRefs ?? 0) >= before)

  // The identities leave (quarantined): their tables go with them.
  await attack.leave()
  await settle(() => (a.remoteMemory()?.compressionBytes ?? Infinity) < 256 * 1024)
  const after = a.remoteMemory()
  t.log(`after: ${JSON.stringify(after)}`)
  t.true((after?.compressionBytes ?? Infinity) < 256 * 1024, `${after?.compressionBytes} bytes of tables left`)
})
