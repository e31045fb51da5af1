import test from 'ava'
import { createServer, type Server, type Socket } from 'node:net'
import { Codec, Lane, encodePreamble } from '@helios/codec'
import { ActorSystem, type ActorRef, type HandshakeFailedEvent } from '@helios/actors'
import { proxiedPair, type FaultProxy } from './support/faultProxy.js'
import { frame } from './support/wire.js'

const CONTROL = 0
const USER = 1
const lanesOf = (p: FaultProxy): number[] => p.lanes.map((c) => c.lane)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

test('a node that only answers writes its replies on the user-lane connection the asker opened', async (t) => {
  const { a, b, toA, toB } = await proxiedPair(t)
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  for (let i = 0; i < 50; i++) t.is(await a.ask(echo, i, { timeoutMs: 5000 }), i)

  // A opened a control and a user connection to B; B opened only its control connection to A.
  t.deepEqual(lanesOf(toB).sort(), [CONTROL, USER])
  t.deepEqual(lanesOf(toA), [CONTROL])
  const userConnection = toB.lanes.find((c) => c.lane === USER)!
  // B's preamble, its handshake response and 51 replies (the Identify answer and 50 echoes) came back on it.
  t.true(userConnection.bytesBack > 51 * 8, `${userConnection.bytesBack} bytes back`)
  const info = b.associations()[0]!
  t.is(info.messagesSent, 51)
  t.is(info.state, 'established')
})

test('when the connection it answers on is cut, the answering node goes on: on the new one, or on its own', async (t) => {
  const { a, b, toA, toB } = await proxiedPair(t)
  const fromB: unknown[] = []
  const inbox = a.actorOf((m) => {
    fromB.push(m)
  }, 'inbox')
  let inboxOnB: ActorRef | undefined
  b.actorOf((m, ctx) => {
    if (m === 'remember me') inboxOnB = ctx.sender
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'before', { timeoutMs: 5000 }), 'before')
  echo.tell('remember me', inbox)
  await until('the inbox ref on B', () => inboxOnB !== undefined && fromB.length === 1)
  t.deepEqual(lanesOf(toA), [CONTROL])

  // Cut every connection A opened (B's replies travelled on one of them). A asks again: its
  // user lane reconnects and B answers on the new connection.
  toB.cut()
  let answer: unknown
  const deadline = Date.now() + 5000
  while (answer === undefined && Date.now() < deadline) {
    answer = await a.ask(echo, 'after the cut', { timeoutMs: 500 }).catch(() => undefined)
  }
  t.is(answer, 'after the cut')

  // The path from A to B goes down: A cannot reconnect, so B has no connection of A's to answer
  // on. B speaks first: it opens a user connection of its own, and A gets the message.
  toB.refuse(true)
  toB.cut()
  await sleep(50)
  inboxOnB!.tell('from B')
  await until('the message from B', () => fromB.includes('from B'))
  t.deepEqual(lanesOf(toA), [CONTROL, USER])
  toB.refuse(false)
  t.is(await a.ask(echo, 'path back up', { timeoutMs: 5000 }), 'path back up')
})

/**
 * A fake node at `port`: answers each connection with whatever `reply(lane, nonce)` returns, once
 * the connector's preamble and handshake request have arrived (they may come in several chunks).
 */
async function fakeAcceptor(
  reply: (lane: number, nonce: bigint) => Buffer | undefined,
): Promise<{ port: number; server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = []
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    let received = Buffer.alloc(0)
    const onData = (d: Buffer): void => {
      received = Buffer.concat([received, d])
      // The 8-byte preamble, then the handshake request's 4-byte length and body.
      if (received.length < 12 || received.length < 12 + received.readUInt32BE(8)) return
      socket.off('data', onData)
      const request = new Codec().decode(received, 12, 12 + received.readUInt32BE(8))
      const out = reply(received[7] ?? -1, request.type === 'handshake-request' ? request.nonce : 0n)
      if (out !== undefined) socket.write(out)
    }
    socket.on('data', onData)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { port: (server.address() as { port: number }).port, server, sockets }
}

test('an acceptor whose first frame back is not its handshake response is refused with a reason', async (t) => {
  // Both lanes answer with a heartbeat, so whichever connection A reads first is refused, and no
  // handshake timeout can end the association before that (the timeout is long).
  const fake = await fakeAcceptor((lane) =>
    Buffer.concat([encodePreamble(lane === USER ? Lane.user : Lane.control), frame(new Codec().encode({ type: 'heartbeat' }))]),
  )
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 10_000 } })
  t.teardown(async () => {
    await a.terminate()
    for (const s of fake.sockets) s.destroy()
    fake.server.close()
  })
  const refused = new Promise<HandshakeFailedEvent>((resolve) =>
    a.events.on('handshakeFailed', (e) => {
      if (/first frame/.test(e.reason)) resolve(e)
    }),
  )
  a.resolveActorRef(`helios.tcp://Fake@127.0.0.1:${fake.port}/user/x`).tell('hello')
  const ev = await refused
  t.regex(ev.reason, /protocol error: the acceptor's first frame must be its handshake response .*got heartbeat/)
  t.false(ev.inbound)
})

test("the acceptor's handshake response must name the address dialled; its uid then counts like any handshake", async (t) => {
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 1000 } })
  const received: unknown[] = []
  const inbox = a.actorOf((m) => {
    received.push(m)
  }, 'inbox')
  const codec = new Codec()
  /** A fake node that answers A's user connection as `claimed` (uid 5) and sends `text` to A's inbox. */
  const fake = (claimed: (port: number) => string, text: string): Promise<{ port: number; server: Server; sockets: Socket[] }> => {
    let port = 0
    const started = fakeAcceptor((lane, nonce) => {
      if (lane !== USER) return undefined // never answers on the control lane
      return Buffer.concat([
        encodePreamble(Lane.user),
        frame(
          codec.encode({
            type: 'handshake-response',
            from: { address: claimed(port), uid: 5n },
            to: a.address.toString(),
            nonce,
            session: 1,
            toSession: 0,
          }),
        ),
        ...codec.createAssociation().encodeUserMessage(inbox.path.toSerializationFormat(), text).map(frame),
      ])
    })
    return started.then((f) => {
      port = f.port
      return f
    })
  }
  const honest = await fake((port) => `helios.tcp://Fake@127.0.0.1:${port}`, 'from the node dialled')
  const spoofing = await fake(() => 'helios.tcp://Other@127.0.0.1:1', 'spoofed')
  t.teardown(async () => {
    await a.terminate()
    for (const f of [honest, spoofing]) {
      for (const s of f.sockets) s.destroy()
      f.server.close()
    }
  })
  const refused = new Promise<HandshakeFailedEvent>((resolve) =>
    a.events.on('handshakeFailed', (e) => {
      if (/Other/.test(e.reason)) resolve(e)
    }),
  )
  a.resolveActorRef(`helios.tcp://Fake@127.0.0.1:${honest.port}/user/x`).tell('hello')
  a.resolveActorRef(`helios.tcp://Fake@127.0.0.1:${spoofing.port}/user/x`).tell('hello')
  t.regex((await refused).reason, /protocol error: handshake response from helios\.tcp:\/\/Other@127\.0\.0\.1:1/)
  await until('the honest reply', () => received.includes('from the node dialled'))
  await sleep(100)
  t.deepEqual(received, ['from the node dialled'])
  t.is(a.associations().find((x) => x.remote.port === honest.port)?.remoteUid, 5n)
})

for (const transport of ['tcp', 'tls'] as const) {
  test(`${transport}: whichever node speaks first, and when both do at once, a pair keeps at most 2 connections, each used both ways`, async (t) => {
    const { a, b, toA, toB } = await proxiedPair(t, { transport })
    for (const s of [a, b]) s.actorOf((m, ctx) => ctx.sender?.tell(m), 'echo')
    // Both speak first, at the same moment.
    const [echoOfB, echoOfA] = await Promise.all([
      a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 }),
      b.actorSelection(`${a.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 }),
    ])
    for (let i = 0; i < 20; i++) {
      t.is(await a.ask(echoOfB, i, { timeoutMs: 5000 }), i)
      t.is(await b.ask(echoOfA, i, { timeoutMs: 5000 }), i)
    }
    // The connections that lost to the lane's own close once idle (1 s).
    await toA.until((p) => p.open + toB.open <= 2, 5000, 'at most 2 connections').catch(() => undefined)
    await sleep(1500)
    t.log(`opened ${toA.connections + toB.connections} connections, ${toA.open + toB.open} open after settling`)
    t.true(toA.open + toB.open <= 2, `${toA.open + toB.open} connections open`)
    for (let i = 0; i < 20; i++) {
      t.is(await a.ask(echoOfB, i, { timeoutMs: 5000 }), i)
      t.is(await b.ask(echoOfA, i, { timeoutMs: 5000 }), i)
    }
    t.true(toA.open + toB.open <= 2, 'still, after more traffic both ways')
    t.deepEqual(
      [...a.associations(), ...b.associations()].map((x) => x.dropped + x.lostInTransit),
      [0, 0],
    )
  })
}
