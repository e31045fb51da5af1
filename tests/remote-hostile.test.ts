import test from 'ava'
import { connect, type Socket } from 'node:net'
import { Codec, Lane, MessageRegistry, encodePreamble } from '@helios/codec'
import { ActorSystem, type HandshakeFailedEvent } from '@helios/actors'
import { frame } from './support/wire.js'

async function nodes(
  t: import('ava').ExecutionContext,
): Promise<{ a: ActorSystem; c: ActorSystem; port: number; check: () => Promise<void> }> {
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 500 } })
  const c = await ActorSystem.create('C', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(async () => {
    await c.terminate()
    await a.terminate()
  })
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  const echo = await c.actorSelection(`${a.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const check = async (): Promise<void> => {
    t.is(await c.ask(echo, 'still serving', { timeoutMs: 5000 }), 'still serving')
  }
  return { a, c, port: a.address.port as number, check }
}

function rawConnect(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const closed = new Promise<void>((r) => socket.once('close', () => r()))
      socket.resume() // read what the node writes back (a refusal's reason), so its close completes
      resolve({ socket, closed })
    })
    socket.on('error', () => {})
    socket.once('error', reject)
  })
}

function nextRefusal(a: ActorSystem): Promise<HandshakeFailedEvent> {
  return new Promise((resolve) => a.events.once('handshakeFailed', resolve))
}

test('garbage bytes on a node port are refused at the preamble with a logged reason, other associations go on', async (t) => {
  const { a, check } = await nodes(t)
  const refused = nextRefusal(a)
  const { socket, closed } = await rawConnect(a.address.port as number)
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const ev = await refused
  t.regex(ev.reason, /preamble/)
  t.true(ev.inbound)
  await closed
  await check()
})

test('a handshake meant for another address is refused and logged, other associations go on', async (t) => {
  const { a, check } = await nodes(t)
  const refused = nextRefusal(a)
  const { socket, closed } = await rawConnect(a.address.port as number)
  const handshake = new Codec().encode({
    type: 'handshake-request',
    from: { address: 'helios.tcp://Mallory@127.0.0.1:9', uid: 7n },
    to: 'helios.tcp://Other@127.0.0.1:1',
    nonce: 1n,
    session: 1,
    toSession: 0,
  })
  socket.write(Buffer.concat([encodePreamble(Lane.control), frame(handshake)]))
  const ev = await refused
  t.regex(ev.reason, /meant for helios\.tcp:\/\/Other@127\.0\.0\.1:1/)
  await closed
  await check()
})

test('a frame length above the max frame size closes that connection before its body is read', async (t) => {
  const { a, check } = await nodes(t)
  const refused = nextRefusal(a)
  const { socket, closed } = await rawConnect(a.address.port as number)
  const header = Buffer.alloc(4)
  header.writeUInt32BE(0xfffffff0)
  socket.write(Buffer.concat([encodePreamble(Lane.user), header, Buffer.alloc(16)]))
  const ev = await refused
  t.regex(ev.reason, /frame length|maxFrameLength/)
  await closed
  await check()
})

test('a peer that connects and says nothing is closed after the handshake timeout', async (t) => {
  const { a, check } = await nodes(t)
  const refused = nextRefusal(a)
  const { closed } = await rawConnect(a.address.port as number)
  const started = performance.now()
  const ev = await refused
  t.regex(ev.reason, /no preamble within 500 ms/)
  await closed
  t.true(performance.now() - started < 5000)
  await check()
})

test('a message that cannot be encoded is dropped at the sender alone', async (t) => {
  const { a, c, check } = await nodes(t)
  const received: unknown[] = []
  a.actorOf((m) => {
    received.push(m)
  }, 'inbox')
  const inbox = await c.actorSelection(`${a.address.toString()}/user/inbox`).resolveOne({ timeoutMs: 5000 })
  const dropped = new Promise<{ reason: string }>((resolve) => c.events.once('dropped', resolve))
  inbox.tell(() => 'a function cannot cross the wire')
  t.regex((await dropped).reason, /encode/)
  inbox.tell('fine')
  await check()
  t.deepEqual(received, ['fine'])
})

test('a message of a class the receiver does not know fails alone (ERR_UNKNOWN_MANIFEST) and the association goes on', async (t) => {
  class Secret {
    constructor(readonly x: number) {}
  }
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  const c = await ActorSystem.create('C', {
    remote: { transport: 'tcp', host: '127.0.0.1', port: 0, registry: new MessageRegistry().register(Secret, 'test.Secret') },
  })
  t.teardown(async () => {
    await c.terminate()
    await a.terminate()
  })
  const received: unknown[] = []
  a.actorOf((m, ctx) => {
    received.push(m)
    ctx.sender?.tell('ack')
  }, 'inbox')
  const inbox = await c.actorSelection(`${a.address.toString()}/user/inbox`).resolveOne({ timeoutMs: 5000 })
  const dropped = new Promise<{ reason: string; cause?: unknown }>((resolve) => a.events.once('dropped', resolve))
  inbox.tell(new Secret(1))
  const ev = await dropped
  t.is((ev.cause as { code?: string }).code, 'ERR_UNKNOWN_MANIFEST')
  t.is(await c.ask(inbox, 'after', { timeoutMs: 5000 }), 'ack')
  t.deepEqual(received, ['after'])
})

test("a peer of another protocol version gets this node's preamble back and is closed", async (t) => {
  const { a, check } = await nodes(t)
  const refused = nextRefusal(a)
  const { socket, closed } = await rawConnect(a.address.port as number)
  const chunks: Buffer[] = []
  socket.on('data', (d: Buffer) => chunks.push(d))
  socket.write(Buffer.from([0x48, 0x45, 0x4c, 0x49, 0x4f, 0x53, 0x01, 0x01]))
  t.regex((await refused).reason, /version 1/)
  await closed
  t.deepEqual([...Buffer.concat(chunks)], [...encodePreamble(Lane.user)])
  await check()
})

test('an envelope with a malformed sender or a recipient on another node fails alone; the connection goes on', async (t) => {
  const { a, check } = await nodes(t)
  const received: unknown[] = []
  const sink = a.actorOf((m) => {
    received.push(m)
  }, 'sink')
  const sinkPath = sink.path.toSerializationFormat()
  const { socket } = await rawConnect(a.address.port as number)
  const codec = new Codec()
  const from = 'helios.tcp://Raw@127.0.0.1:9'
  const assoc = codec.createAssociation()
  const frames = [
    codec.encode({
      type: 'handshake-request',
      from: { address: from, uid: 99n },
      to: a.address.toString(),
      nonce: 1n,
      session: 1,
      toSession: 0,
    }),
    ...assoc.encodeUserMessage(sinkPath, 'm1'),
    ...assoc.encodeUserMessage(sinkPath, 'bad sender', 'not a path'),
    ...assoc.encodeUserMessage('helios.tcp://Z@127.0.0.1:1/user/z#5', 'relay me'),
    ...assoc.encodeUserMessage(sinkPath, 'm2'),
  ]
  const dropped: string[] = []
  a.events.on('dropped', (e) => dropped.push(e.reason))
  socket.write(Buffer.concat([encodePreamble(Lane.user), ...frames.map(frame)]))
  const deadline = Date.now() + 5000
  while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.deepEqual(received, ['m1', 'm2'])
  t.true(
    dropped.some((r) => /not on this node/.test(r)),
    dropped.join('; '),
  )
  t.true(
    dropped.some((r) => /path/i.test(r)),
    dropped.join('; '),
  )
  t.false(
    a.associations().some((x) => x.remote.toString().includes('Z@')),
    'no association to the third node',
  )
  socket.destroy()
  await check()
})

test('handshakes from made-up addresses leave no associations behind', async (t) => {
  const a = await ActorSystem.create('A', {
    remote: { transport: 'tcp', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 300, heartbeatIntervalMs: 100 },
  })
  t.teardown(() => a.terminate())
  const codec = new Codec()
  for (let i = 0; i < 50; i++) {
    const { socket } = await rawConnect(a.address.port as number)
    const hs = codec.encode({
      type: 'handshake-request',
      from: { address: `helios.tcp://Fake${i}@127.0.0.1:${1 + i}`, uid: BigInt(1000 + i) },
      to: a.address.toString(),
      nonce: BigInt(i + 1),
      session: 1,
      toSession: 0,
    })
    socket.end(Buffer.concat([encodePreamble(Lane.control), frame(hs)]))
  }
  await new Promise((r) => setTimeout(r, 150))
  t.true(a.associations().length > 0, 'the handshakes were accepted')
  const deadline = Date.now() + 5000
  while (a.associations().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  t.is(a.associations().length, 0)
})
