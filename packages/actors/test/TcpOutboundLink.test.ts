import test from 'ava'
import type { Channel } from '@helios/transport'
import { ManualClock } from '@helios/transport/testing'
import { Address } from '../src/Address.js'
import { LaneId } from '../src/remote/OutboundLink.js'
import { TcpOutboundLink } from '../src/remote/TcpOutboundLink.js'

// The lent-connection state machine of a user-lane link, driven through orders of events that
// real sockets produce only by chance (a connect completing while a lent connection is in use, a
// peer replacing its connection). The channels are stand-ins that record what is written on them;
// the socket paths themselves are covered by tests/remote-connections.test.ts.

interface FakeChannel {
  readonly name: string
  isWritable: boolean
  frames: number
  closing: boolean
  readonly closed: Promise<void>
  finishClose(): Promise<void>
}

function fakeChannel(name: string): FakeChannel & Channel {
  let resolve!: () => void
  const closed = new Promise<void>((r) => {
    resolve = r
  })
  const ch = {
    name,
    isWritable: true,
    frames: 0,
    closing: false,
    closed,
    closeReason: undefined,
    write() {
      if (!ch.closing) ch.frames++
    },
    flush() {},
    close() {
      ch.closing = true
      return closed
    },
    async finishClose() {
      ch.isWritable = false
      resolve()
      await closed
      await Promise.resolve()
    },
  }
  return ch as unknown as FakeChannel & Channel
}

interface FakeOwner {
  queuedMessages: number
  unconfirmedUserMessages: number
  needsOwnControlConnection: boolean
}

/** A link of A (address `local`) to B, with a fake association and a manual clock. */
function setup(options: { local?: string; lane?: LaneId; idleUserConnectionMs?: number } = {}): {
  link: TcpOutboundLink
  events: string[]
  assoc: FakeOwner
  clock: ManualClock
} {
  const events: string[] = []
  const owner = {
    queuedMessages: 0,
    unconfirmedUserMessages: 0,
    needsOwnControlConnection: false,
    wantsConnection: true,
    remoteAddress: { host: '127.0.0.1', port: 1 },
    key: 'helios.tcp://B@127.0.0.1:1',
    handshakeResponse: () => new Uint8Array(3),
    handshakeRequest: () => new Uint8Array(4),
    newControlConnectionRequest: () => new Uint8Array(4),
    scheduleFlush: () => {},
    onLinkUp: () => {
      events.push('up')
    },
    onLinkDown: () => {
      events.push('down')
    },
  }
  const clock = new ManualClock()
  const host = {
    settings: { idleUserConnectionMs: options.idleUserConnectionMs ?? 5000 },
    clock,
    localAddress: Address.parse(options.local ?? 'helios.tcp://A@127.0.0.1:1'),
  }
  return { link: new TcpOutboundLink(host as never, owner as never, options.lane ?? LaneId.user), events, assoc: owner, clock }
}

/** What connect() does when the link's own connection completes. */
function connectedOwn(link: TcpOutboundLink, ch: Channel): void {
  ;(link as unknown as { connected(c: Channel): void }).connected(ch)
}

const writeOne = (link: TcpOutboundLink): void => {
  link.write(new Uint8Array([1, 2, 3]))
  link.flush()
}

test('a lent connection answers with the preamble and handshake response and carries the frames', (t) => {
  const { link, events } = setup()
  const a = fakeChannel('a')
  link.lend(a)
  t.is(a.frames, 2, 'preamble and handshake response')
  t.true(link.ready)
  t.deepEqual(events, ['up'])
  writeOne(link)
  t.is(a.frames, 3)
})

test('when the peer replaces its connection, the link moves to the new one and closes the old one', async (t) => {
  const { link } = setup()
  const a1 = fakeChannel('a1')
  const a2 = fakeChannel('a2')
  link.lend(a1)
  link.lend(a2)
  t.true(a1.closing)
  writeOne(link)
  t.is(a2.frames, 3)
  await a1.finishClose()
  t.true(link.ready)
  writeOne(link)
  t.is(a2.frames, 4)
})

test('a connection of its own that completed meanwhile takes over from a replaced lent one', async (t) => {
  const { link } = setup()
  const a1 = fakeChannel('a1')
  const own = fakeChannel('own')
  link.lend(a1)
  ;(link as unknown as { channel: Channel }).channel = own // what connect() sets when it completes now
  link.lend(fakeChannel('a2'))
  await a1.finishClose()
  writeOne(link)
  t.is(own.frames, 1, 'writes go to the open connection of its own')
  t.true(link.writable)
})

test('close() does not move writing onto its own closing connection', (t) => {
  const { link, events } = setup()
  const a = fakeChannel('a')
  const own = fakeChannel('own')
  link.lend(a)
  ;(link as unknown as { channel: Channel }).channel = own
  link.close(true)
  t.true(a.closing)
  t.true(own.closing)
  t.false(link.ready)
  t.deepEqual(events, ['up'], 'no onLinkUp for a closing connection')
})

test('when the lent connection closes with nothing of its own, the lane is down', async (t) => {
  const { link, events } = setup()
  const a = fakeChannel('a')
  link.lend(a)
  await a.finishClose()
  t.false(link.ready)
  t.deepEqual(events, ['up', 'down'])
})

test("with two connections on the lane, the node with the larger address moves to the peer's once what it wrote there was acked, and closes its own when idle", async (t) => {
  const { link, assoc, clock } = setup({ local: 'helios.tcp://C@127.0.0.1:1' }) // C > B: B's connection is the lane's
  const own = fakeChannel('own')
  const lent = fakeChannel('lent')
  connectedOwn(link, own)
  writeOne(link)
  t.is(own.frames, 3, 'preamble, request, one frame')
  assoc.unconfirmedUserMessages = 1
  link.lend(lent)
  writeOne(link)
  t.is(own.frames, 4, 'while the move waits for the peer to confirm what is on our connection, our connection carries the envelopes')
  assoc.unconfirmedUserMessages = 0
  link.onUserAck()
  t.true(link.writable)
  writeOne(link)
  t.is(lent.frames, 3, "preamble and response, then the frame: on the peer's connection")
  t.false(own.closing)
  clock.advance(1500)
  t.true(own.closing, 'our own, idle, closes')
})

test("the node with the smaller address keeps writing on its own connection when the peer's arrives", (t) => {
  const { link } = setup() // A < B
  const own = fakeChannel('own')
  const lent = fakeChannel('lent')
  connectedOwn(link, own)
  link.lend(lent)
  writeOne(link)
  t.is(own.frames, 3)
  t.is(lent.frames, 2)
  t.true(link.writable)
})

test('a user-lane move that the peer never confirms completes after a timeout; the old connection carries the envelopes meanwhile', (t) => {
  const { link, assoc, clock } = setup({ local: 'helios.tcp://C@127.0.0.1:1', idleUserConnectionMs: 60_000 })
  const own = fakeChannel('own')
  const lent = fakeChannel('lent')
  connectedOwn(link, own)
  assoc.unconfirmedUserMessages = 5
  link.lend(lent)
  const [ownBefore, lentBefore] = [own.frames, lent.frames]
  writeOne(link)
  t.is(own.frames, ownBefore + 1, 'the old connection carries the envelopes while the move waits')
  clock.advance(10_000)
  writeOne(link)
  t.is(own.frames, ownBefore + 2, 'an overloaded peer acks late: the move waits')
  clock.advance(20_500)
  writeOne(link)
  t.is(lent.frames, lentBefore + 1, 'after 30 s it moves anyway')
})

test('the control lane moves at once', (t) => {
  const { link } = setup({ local: 'helios.tcp://C@127.0.0.1:1', lane: LaneId.control })
  const own = fakeChannel('own')
  const lent = fakeChannel('lent')
  connectedOwn(link, own)
  link.lend(lent)
  t.true(link.writable)
  writeOne(link)
  t.is(lent.frames, 3)
})

test('an idle user-lane connection of our own closes after idleUserConnectionMs', (t) => {
  const { link, clock } = setup()
  const own = fakeChannel('own')
  connectedOwn(link, own)
  clock.advance(4000)
  writeOne(link)
  clock.advance(4000)
  t.false(own.closing, 'traffic 4 s ago')
  clock.advance(2500)
  t.true(own.closing, 'closed within a quarter of the timeout after it')
})
