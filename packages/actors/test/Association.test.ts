import test from 'ava'
import { Codec } from '@helios/codec'
import type { Association } from '../src/remote/Association.js'
import { LaneId } from '../src/remote/OutboundLink.js'
import { LOSS_GRACE_MS } from '../src/remote/UserMessageLedger.js'
import { FakeNode, PEER, ProbeRef, refused, timedOut } from './helpers/AssociationHarness.js'

// An association (and the registry that replaces ended ones) on a manual clock, without sockets:
// the links record what is written, the test plays the peer by handing the association the PDUs
// the peer would send.

const ECHO = `${PEER}/user/echo`
/** The sessions a handshake of the peer carries: its association `session` (a later one would be larger), none of ours known. */
const sessionOf = (session: number, toSession = 0) => ({ session, toSession })
const PEER_SESSION = sessionOf(1)

const peerCodec = new Codec()

/** The peer's user envelope numbered `seq` (to the echo actor), arriving encoded as a frame. */
function receiveEnvelope(a: Association, seq: number, message: unknown): void {
  const f = peerCodec.encode({ type: 'user-envelope', seq, recipient: ECHO, sender: undefined, message })
  a.receive(f, 0, f.length)
}

/** Connects both lanes and has the peer (uid) answer our control connection's request. */
function establish(node: FakeNode, uid = 7n, a: Association = node.peer(), forgetFrames = true): Association {
  a.connect()
  node.control(a).up()
  node.user(a).up()
  a.onHandshakeResponse(uid, node.control(a).lastNonce(), PEER_SESSION)
  node.flush()
  if (forgetFrames) {
    node.control(a).take()
    node.user(a).take()
  }
  return a
}

test('a send starts the handshake; messages wait until a response echoing our nonce establishes it, then leave in order', (t) => {
  const node = new FakeNode()
  const a = node.peer()
  t.is(a.state.kind, 'idle')
  const echo = node.ref(ECHO, a)
  echo.tell('one')
  echo.tell('two')
  t.is(a.state.kind, 'handshaking')
  t.is(node.control(a).connects, 1, 'the control lane connects')
  node.control(a).up()
  node.user(a).up()
  node.flush()
  t.deepEqual(
    node
      .user(a)
      .take()
      .map((p) => p.type),
    ['handshake-request'],
    'nothing but the handshake before the answer',
  )
  t.is(a.queuedMessages, 2)
  a.onHandshakeResponse(7n, node.control(a).lastNonce(), PEER_SESSION)
  node.flush()
  t.is(a.state.kind, 'established')
  t.deepEqual(
    node
      .user(a)
      .take()
      .map((p) => (p.type === 'user-envelope' ? p.message : p.type)),
    ['one', 'two'],
  )
  t.deepEqual(node.of('associated'), [{ uid: 7n, localUid: 1n }])
})

test('a response that does not echo a nonce of ours establishes nothing and is reported', (t) => {
  const node = new FakeNode()
  const a = node.peer()
  a.connect()
  node.control(a).up()
  t.is(a.onHandshakeResponse(7n, 12345n, PEER_SESSION), undefined)
  t.is(a.state.kind, 'handshaking')
  t.regex(String(node.of('handshakeFailed')[0]?.reason), /does not echo a nonce this node sent/)
})

/** A local watcher watches three actors at the peer: system messages 1, 2 and 3. */
function watchThree(node: FakeNode, a: Association): ProbeRef {
  const watcher = new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1')
  for (const i of [1, 2, 3]) {
    const r = node.ref(`${PEER}/user/x${i}#${i}`, a)
    r.sendSystemMessage({ kind: 'watch', watchee: r, watcher })
  }
  return watcher
}

/** The numbers of the system envelopes written on the control lane since the last take. */
function systemSeqs(node: FakeNode, a: Association): number[] {
  return node
    .control(a)
    .take()
    .flatMap((p) => (p.type === 'system-envelope' ? [p.seq] : []))
}

test("the peer's request is answered with its nonce and makes us dial; only the answer to our own request establishes", (t) => {
  const node = new FakeNode()
  const a = node.peer()
  t.is(a.onHandshakeRequest(7n, 555n, PEER_SESSION), 'accepted')
  t.deepEqual(a.state, { kind: 'handshaking', uid: 7n, since: node.clock.now() })
  t.is(node.control(a).connects, 1)
  node.control(a).up()
  const sent = node.control(a).take()
  t.deepEqual(
    sent.map((p) => p.type),
    ['handshake-request', 'handshake-response'],
  )
  const response = sent[1]
  t.true(response?.type === 'handshake-response' && response.nonce === 555n, "our response echoes the peer's nonce")
  t.true(a.accepts(7n), "the claimed uid's frames are read meanwhile")
  t.false(a.accepts(8n))
  const request = sent[0]
  a.onHandshakeResponse(7n, request?.type === 'handshake-request' ? request.nonce : 0n, PEER_SESSION)
  t.is(a.state.kind, 'established')
})

test("after a reconnect nothing but the handshake goes out until the answer to the new connection's nonce; an older nonce is stale", (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const watcher = new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1')
  const echo = node.ref(`${ECHO}#42`, a)
  const oldNonce = a.handshake.nonce
  node.control(a).down()
  t.deepEqual(
    node.of('disassociated').map((e) => e.reason),
    ['connection reset'],
  )
  echo.sendSystemMessage({ kind: 'watch', watchee: echo, watcher })
  echo.tell('queued')
  node.control(a).up()
  node.flush()
  t.deepEqual(
    node
      .control(a)
      .take()
      .map((p) => p.type),
    ['handshake-request'],
  )
  a.onHandshakeResponse(7n, oldNonce, PEER_SESSION)
  node.flush()
  t.deepEqual(node.control(a).take(), [], "an answer to the old connection's request confirms nothing")
  a.onHandshakeResponse(7n, a.handshake.nonce, PEER_SESSION)
  node.flush()
  t.deepEqual(
    node
      .control(a)
      .take()
      .map((p) => p.type)
      .filter((x) => x !== 'compression-advertisement'),
    ['system-envelope'],
  )
  t.deepEqual(
    node
      .user(a)
      .take()
      .map((p) => (p.type === 'user-envelope' ? p.message : p.type)),
    ['queued'],
  )
  t.is(a.info().reconnects, 1)
})

test('unacknowledged system messages are sent again after a confirmed reconnect; acknowledged ones are not', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  watchThree(node, a)
  node.flush()
  t.deepEqual(systemSeqs(node, a), [1, 2, 3])
  a.handle({ type: 'ack', cumulative: 2, selective: [] })
  node.control(a).down()
  node.control(a).up()
  a.onHandshakeResponse(7n, node.control(a).lastNonce(), PEER_SESSION)
  node.flush()
  t.deepEqual(systemSeqs(node, a), [3])
  t.is(a.info().systemMessagesResent, 1)
})

test('a later session of the established uid (the peer forgot the association) starts this side afresh: unacked system messages numbered from 1, unconfirmed user messages reported, fresh compression', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const watcher = watchThree(node, a)
  a.handle({ type: 'ack', cumulative: 1, selective: [] })
  // The peer's system messages 1 and 2 arrive, and user messages from here are sent with compressed sender paths.
  const peerSystem = (seq: number) =>
    a.handle({ type: 'system-envelope', seq, recipient: 'helios.tcp://A@127.0.0.1:1/user/w#1', sender: `${ECHO}#5`, message: [1] })
  peerSystem(1)
  peerSystem(2)
  const echo = node.ref(ECHO, a)
  for (let i = 0; i < 5; i++) echo.tell(i, watcher)
  node.flush()
  node.control(a).take()
  node.user(a).take()
  t.is(a.info().systemMessagesReceived, 2)
  const writtenBefore = a.info().compression.actorRefsWritten

  // Its new association introduces itself on a new connection with a later session.
  t.is(a.onHandshakeRequest(7n, 555n, sessionOf(2)), 'accepted')
  node.flush()
  const control = node.control(a).take()
  t.deepEqual(
    control.filter((p) => p.type !== 'compression-advertisement').map((p) => (p.type === 'system-envelope' ? `system ${p.seq}` : p.type)),
    ['handshake-response', 'system 1', 'system 2'],
    'the response, then the two unacked watches numbered 1 and 2 (and the new tables advertised)',
  )
  t.is(a.info().peerSessionRestarts, 1)
  t.is(a.state.kind, 'established', 'same uid: nothing ends, no watcher is told anything')
  t.deepEqual(watcher.system, [])
  t.deepEqual(
    node.of('dropped').map((e) => [e.kind, e.count]),
    [['unconfirmed', 5]],
    'the user messages it never confirmed are reported',
  )
  t.is(a.info().compression.actorRefsWritten, 4, `a fresh codec state: only the resent watches' paths (${writtenBefore} before)`)
  // The peer's numbering starts at 1 again: delivered, not taken for a duplicate.
  peerSystem(1)
  t.is(a.info().systemMessagesReceived, 3)
  // A request from the association it ended (an earlier session) is refused, and changes nothing.
  t.is(a.onHandshakeRequest(7n, 556n, PEER_SESSION), 'refused')
  t.is(a.info().peerSessionRestarts, 1)
  peerSystem(2)
  t.is(a.info().systemMessagesReceived, 4)
})

test('a later session in a response to our request (the peer forgot the association while we reconnected) starts this side afresh too; an earlier one confirms nothing', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  node.control(a).down()
  node.control(a).up()
  t.is(a.onHandshakeResponse(7n, node.control(a).lastNonce(), sessionOf(6)), a)
  t.true(node.control(a).confirmed)
  t.is(a.info().peerSessionRestarts, 1)
  node.control(a).down()
  node.control(a).up()
  t.is(a.onHandshakeResponse(7n, node.control(a).lastNonce(), sessionOf(3)), undefined, 'an earlier session: ignored')
  t.false(node.control(a).confirmed)
  t.is(a.info().peerSessionRestarts, 1)
})

test('a restart claim is not believed: the established uid stays, the address is asked, and when the old uid answers the claim is refused', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  t.is(a.onHandshakeRequest(99n, 1n, PEER_SESSION), 'parked')
  t.is(a.state.kind, 'established')
  t.true(a.verifying(99n))
  node.flush()
  const ask = node.control(a).take()
  t.deepEqual(
    ask.map((p) => p.type),
    ['handshake-request'],
    'our request goes to the address on the established connection',
  )
  const request = ask[0]
  // Whoever is at the address answers our request: the old incarnation, alive.
  a.onHandshakeResponse(7n, request?.type === 'handshake-request' ? request.nonce : 0n, PEER_SESSION)
  t.false(a.verifying(99n))
  t.is(a.state.kind, 'established')
  t.is(a.uid, 7n)
  t.deepEqual(node.of('quarantined'), [])
  t.regex(String(node.of('handshakeFailed')[0]?.reason), /restart claim of .* uid 99 refused: uid 7 still answers/)
  // Traffic with the live incarnation goes on.
  node.ref(ECHO, a).tell('still here')
  node.flush()
  t.deepEqual(
    node
      .user(a)
      .take()
      .map((p) => p.type),
    ['user-envelope'],
  )
})

test('a claim repeated every 100 ms while the old uid answers costs nothing: no quarantine, no dropped message', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const echo = node.ref(ECHO, a)
  let delivered = 0
  for (let i = 0; i < 50; i++) {
    a.onHandshakeRequest(1000n + BigInt(i), BigInt(i + 1), PEER_SESSION)
    node.flush()
    a.onHandshakeResponse(7n, node.control(a).lastNonce(), PEER_SESSION) // the live node answers each verification
    echo.tell(i)
    node.flush()
    delivered += node
      .user(a)
      .take()
      .filter((p) => p.type === 'user-envelope').length
    node.clock.advance(100)
  }
  t.is(delivered, 50)
  t.deepEqual(node.of('quarantined'), [])
  t.deepEqual(node.of('dropped'), [])
  t.is(node.of('handshakeFailed').length, 50)
})

test('a restart proven at the address ends the old incarnation and a successor takes over, established with the new uid', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const byPath = node.ref(ECHO, a)
  const oldActor = node.ref(`${ECHO}#42`, a)
  a.onHandshakeRequest(99n, 5n, PEER_SESSION) // the claim
  node.control(a).down() // the old incarnation's connection is gone...
  byPath.tell('for whoever lives there')
  oldActor.tell('for the old actor')
  node.control(a).up() // ...and the reconnect reaches the new one, which answers our request
  const next = a.onHandshakeResponse(99n, node.control(a).lastNonce(), PEER_SESSION) as Association
  t.truthy(next)
  t.not(next, a)
  t.is(a.state.kind, 'quarantined')
  t.is(a.successor, next)
  t.is(next?.state.kind, 'established')
  t.is(next?.uid, 99n)
  t.is(node.registry.get(PEER), next, "the registry's current association for the address")
  t.regex(String(node.of('quarantined')[0]?.reason), /node restarted \(uid 99 confirmed at/)
  t.deepEqual(node.of('addressTerminated'), [{ address: PEER }], 'watchers of the old incarnation are told')
  t.deepEqual(
    node.of('deadLetter').map((e) => e.message),
    ['for the old actor'],
  )
  // The successor answers the claimant's request (its nonce) and sends what was sent by path.
  const successor = next as Association
  node.control(successor).up()
  node.user(successor).up()
  successor.onHandshakeResponse(99n, node.control(successor).lastNonce(), PEER_SESSION)
  node.flush()
  const control = node.control(successor).take()
  t.true(control.some((p) => p.type === 'handshake-response' && p.nonce === 5n))
  t.deepEqual(
    node
      .user(successor)
      .take()
      .filter((p) => p.type === 'user-envelope')
      .map((p) => (p.type === 'user-envelope' ? p.message : 0)),
    ['for whoever lives there'],
  )
  // Refs bound to the old association: by path they move on, to one actor incarnation they are dead.
  oldActor.tell('again')
  t.deepEqual(
    node.of('deadLetter').map((e) => e.message),
    ['for the old actor', 'again'],
  )
  const watcher = new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1')
  oldActor.sendSystemMessage({ kind: 'watch', watchee: oldActor, watcher })
  t.like(watcher.system[0], { kind: 'deathWatchNotification', addressTerminated: true })
  byPath.tell('by path again')
  t.is(byPath.association, successor)
})

test('a restart claim that nobody confirms at the address expires after the handshake timeout', (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 3000 })
  const a = establish(node)
  a.onHandshakeRequest(99n, 5n, PEER_SESSION)
  for (let i = 0; i < 3; i++) {
    a.handle({ type: 'heartbeat-reply', uid: 7n })
    node.tick()
  }
  t.false(a.verifying(99n))
  t.is(a.state.kind, 'established')
  t.regex(String(node.of('handshakeFailed').at(-1)?.reason), /no answer naming it at .* within 3000 ms/)
})

test("a watched peer is monitored: heartbeat replies keep it, silence past the detector's bound quarantines it", (t) => {
  const node = new FakeNode({
    heartbeatIntervalMs: 1000,
    failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 3000, minStdDeviationMs: 100 },
  })
  const a = establish(node)
  const echo = node.ref(`${ECHO}#5`, a)
  echo.sendSystemMessage({ kind: 'watch', watchee: echo, watcher: new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1') })
  t.is(a.info().watchedActors, 1)
  for (let i = 0; i < 20; i++) {
    node.tick()
    t.true(
      node
        .control(a)
        .take()
        .some((p) => p.type === 'heartbeat'),
    )
    a.handle({ type: 'heartbeat-reply', uid: 7n })
  }
  t.is(a.state.kind, 'established')
  let ticks = 0
  while (a.state.kind === 'established' && ticks < 30) {
    node.tick()
    ticks++
  }
  t.is(a.state.kind, 'quarantined')
  t.true(ticks >= 3 && ticks <= 6, `declared after ${ticks} silent intervals`)
  t.is(node.of('unreachable').length, 1)
  t.regex(String(node.of('quarantined')[0]?.reason), /^unreachable \(phi/)
})

test('a peer nobody watches gets no heartbeats once the association settled, and its silence quarantines nothing', (t) => {
  const node = new FakeNode({ heartbeatIntervalMs: 1000, failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 3000 } })
  const a = establish(node)
  let heartbeats = 0
  for (let i = 0; i < 40; i++) {
    node.tick()
    heartbeats += node
      .control(a)
      .take()
      .filter((p) => p.type === 'heartbeat').length
    if (i < 5) a.handle({ type: 'heartbeat-reply', uid: 7n })
  }
  t.true(heartbeats >= 8 && heartbeats <= 10, `${heartbeats} heartbeats: only in the first intervals after the association formed`)
  t.is(a.state.kind, 'established')
  t.is(a.phi, 0)
})

test('traffic from a watched peer counts as its heartbeat: none is sent while it talks', (t) => {
  const node = new FakeNode({ heartbeatIntervalMs: 1000, failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 3000 } })
  const a = establish(node)
  const echo = node.ref(`${ECHO}#5`, a)
  echo.sendSystemMessage({ kind: 'watch', watchee: echo, watcher: new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1') })
  let heartbeats = 0
  for (let i = 0; i < 30; i++) {
    a.handle({ type: 'user-envelope', seq: i + 1, recipient: 'helios.tcp://A@127.0.0.1:1/user/x', sender: undefined, message: i })
    a.receive(new Uint8Array([0x03, 0x90]), 0, 2) // any frame is a sign of life
    node.tick()
    heartbeats += node
      .control(a)
      .take()
      .filter((p) => p.type === 'heartbeat').length
  }
  t.is(heartbeats, 3, 'one every tenth interval, which measures the round trip')
  t.is(a.state.kind, 'established')
  // The watched actor stops: its watch ends, and so does the monitoring once the association is old enough.
  a.handle({ type: 'system-envelope', seq: 1, recipient: 'helios.tcp://A@127.0.0.1:1/user/w#1', sender: `${ECHO}#5`, message: [3, 1] })
  t.is(a.info().watchedActors, 0)
})

test('a pause of this process is not held against the peer', (t) => {
  const node = new FakeNode({ heartbeatIntervalMs: 1000, failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 3000 } })
  const a = establish(node)
  for (let i = 0; i < 5; i++) {
    node.tick()
    a.handle({ type: 'heartbeat-reply', uid: 7n })
  }
  node.clock.advance(30_000) // SIGSTOP: no tick ran, no reply was read
  node.registry.forgivePause()
  node.registry.tick(node.clock.now())
  t.is(a.state.kind, 'established')
  a.handle({ type: 'heartbeat-reply', uid: 7n }) // what waited in the socket
  node.tick()
  t.is(a.state.kind, 'established')
})

test('a refused reconnect after the connection was lost declares the peer down at once; other connect failures do not', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const watcher = new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1')
  node.ref(`${ECHO}#42`, a).sendSystemMessage({ kind: 'watch', watchee: node.ref(`${ECHO}#42`, a), watcher })
  a.onConnectFailed(LaneId.control, refused())
  t.is(a.state.kind, 'established', 'a refused connect while the connection is up proves nothing')
  node.control(a).down()
  a.onConnectFailed(LaneId.control, timedOut())
  t.is(a.state.kind, 'established', 'a timeout proves nothing: the detector decides')
  a.onConnectFailed(LaneId.control, refused())
  t.is(a.state.kind, 'quarantined')
  t.regex(String(node.of('quarantined')[0]?.reason), /^down: 127\.0\.0\.1:2 refused the connection after the connection to it was lost$/)
  t.deepEqual(node.of('addressTerminated'), [{ address: PEER }])
})

test('with downOnConnectionRefused off, a refused reconnect only waits for the detector', (t) => {
  const node = new FakeNode({ downOnConnectionRefused: false })
  const a = establish(node)
  node.control(a).down()
  a.onConnectFailed(LaneId.control, refused())
  t.is(a.state.kind, 'established')
})

test('messages sent to a quarantined address wait in a successor that looks for a new incarnation, and are dropped if none answers in time', (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 5000 })
  const a = establish(node)
  a.quarantine('down: test', 'down')
  const echo = node.ref(ECHO, a)
  echo.tell('held')
  const next = node.peer()
  t.not(next, a)
  t.is(next.state.kind, 'handshaking')
  t.is(next.queuedMessages, 1)
  t.is(node.control(next).connects, 1)
  node.tick(5)
  t.is(next.state.kind, 'idle')
  t.deepEqual(
    node.of('dropped').map((e) => e.reason),
    [`handshake with ${PEER} timed out after 5000 ms`],
  )
  t.deepEqual(
    node.of('deadLetter').map((e) => e.message),
    ['held'],
  )
  node.tick()
  t.not(node.peer(), next, 'the idle successor was forgotten')
})

test('a held message is delivered when a new incarnation answers at the address', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  a.quarantine('down: test', 'down')
  node.ref(ECHO, a).tell('held')
  const next = node.peer()
  establish(node, 99n, next, false)
  t.deepEqual(
    node
      .user(next)
      .take()
      .filter((p) => p.type === 'user-envelope')
      .map((p) => (p.type === 'user-envelope' ? p.message : 0)),
    ['held'],
  )
})

test('a quarantined uid is refused and told so, whatever association is current for the address', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  a.quarantine('unreachable (test)', 'unreachable')
  t.deepEqual(
    node
      .control(a)
      .take()
      .map((p) => p.type),
    ['quarantined'],
    'the peer is told',
  )
  const next = node.peer()
  t.is(next.onHandshakeRequest(7n, 3n, PEER_SESSION), 'refused')
  t.is(next.quarantinedNoticeFor(7n)?.[0], 0x06)
  t.is(next.onHandshakeRequest(8n, 3n, PEER_SESSION), 'accepted', 'a new incarnation is welcome')
})

test('when the peer says it quarantined this node, the pair goes on under a new local uid; nothing else changes', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const other = establish(node, 5n, node.peer('helios.tcp://C@127.0.0.1:3'))
  a.handle({ type: 'quarantined', from: { address: PEER, uid: 7n }, to: { address: 'helios.tcp://A@127.0.0.1:1', uid: 1n } })
  t.is(a.state.kind, 'retired')
  const next = node.peer()
  t.not(next, a)
  t.not(next.localUid, 1n)
  t.is(next.state.kind, 'handshaking', 'it introduces the new uid at once')
  t.is(node.control(next).connects, 1)
  const [event] = node.of('quarantined')
  t.like(event, { byPeer: true, localUid: 1n, newLocalUid: next.localUid, uid: 7n })
  t.is(node.of('warn')[0]?.code, 'HELIOS_QUARANTINED')
  t.deepEqual(node.of('addressTerminated'), [{ address: PEER }])
  t.is(other.state.kind, 'established')
  t.is(other.localUid, 1n)
  // The new pair is established with the peer's same uid (forgiven on this side too).
  establish(node, 7n, next)
  t.is(next.state.kind, 'established')
  t.is(node.registry.associationFor(next.remoteAddress).localUid, next.localUid)
})

test('with quarantineRecovery none, being quarantined by the peer ends the association and nothing reconnects', (t) => {
  const node = new FakeNode({ quarantineRecovery: 'none' })
  const a = establish(node)
  a.handle({ type: 'quarantined', from: { address: PEER, uid: 7n }, to: { address: 'helios.tcp://A@127.0.0.1:1', uid: 1n } })
  t.is(a.state.kind, 'quarantined')
  t.is(node.of('quarantined').length, 1)
  t.like(node.of('quarantined')[0], { byPeer: true, localUid: 1n })
  t.regex(String(node.of('warn')[0]?.message), /cannot talk to it again until it restarts/)
})

test('a quarantined notice for another uid of ours, or from another incarnation, is ignored', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  a.handle({ type: 'quarantined', from: { address: PEER, uid: 7n }, to: { address: 'helios.tcp://A@127.0.0.1:1', uid: 2n } })
  a.handle({ type: 'quarantined', from: { address: PEER, uid: 8n }, to: { address: 'helios.tcp://A@127.0.0.1:1', uid: 1n } })
  t.is(a.state.kind, 'established')
})

test('overflowing the system-message buffer quarantines', (t) => {
  const node = new FakeNode({ systemMessageBufferSize: 3 })
  const a = establish(node)
  const watcher = new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1')
  for (let i = 0; i < 4; i++) {
    const r = node.ref(`${PEER}/user/x${i}#${i + 1}`, a)
    r.sendSystemMessage({ kind: 'watch', watchee: r, watcher })
  }
  t.is(a.state.kind, 'quarantined')
  t.regex(String(node.of('quarantined')[0]?.reason), /resend buffer full/)
})

test('a handshake that times out with a watch waiting quarantines (the watcher is told); with user messages only they are dropped', (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 2000 })
  const watched = node.peer()
  const r = node.ref(`${ECHO}#1`, watched)
  r.sendSystemMessage({ kind: 'watch', watchee: r, watcher: new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1') })
  const other = node.peer('helios.tcp://C@127.0.0.1:3')
  node.ref('helios.tcp://C@127.0.0.1:3/user/x', other).tell('lost')
  node.tick(2)
  t.is(watched.state.kind, 'quarantined')
  t.deepEqual(node.of('addressTerminated'), [{ address: PEER }])
  t.is(other.state.kind, 'idle')
  t.deepEqual(
    node.of('dropped').map((e) => e.recipient),
    ['helios.tcp://C@127.0.0.1:3/user/x'],
  )
})

test('an address quarantined as unreachable is probed later: who answers there is found out without any send', (t) => {
  const node = new FakeNode({ heartbeatIntervalMs: 1000 })
  const a = establish(node)
  a.quarantine('unreachable (test)', 'unreachable')
  node.tick(4)
  t.is(node.registry.get(PEER), a, 'not yet')
  node.tick(1)
  const probe = node.registry.get(PEER) as Association
  t.not(probe, a)
  t.is(probe.state.kind, 'handshaking')
  t.is(node.control(probe).connects, 1)
})

test('over udp the peer that does not know this node makes it introduce itself again', (t) => {
  const node = new FakeNode({ transport: 'udp' })
  const a = establish(node)
  node.control(a).take()
  a.handle({ type: 'disassociate', reason: 6, detail: '' })
  node.flush()
  t.deepEqual(
    node
      .control(a)
      .take()
      .map((p) => p.type),
    ['handshake-request'],
  )
  a.handle({ type: 'disassociate', reason: 6, detail: '' })
  t.deepEqual(node.control(a).take(), [], 'at most once per 100 ms')
})

test('user messages from the peer that never arrived (a gap in their numbering) are reported with their count', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const envelope = (seq: number) => ({
    type: 'user-envelope' as const,
    seq,
    recipient: 'helios.tcp://A@127.0.0.1:1/user/x',
    sender: undefined,
    message: seq,
  })
  for (const seq of [1, 2, 3, 7, 8]) a.handle(envelope(seq))
  node.tick()
  t.deepEqual(node.of('dropped'), [], 'a gap waits for late envelopes first')
  a.handle(envelope(5)) // late (e.g. left on the connection the sender's lane moved away from)
  node.clock.advance(LOSS_GRACE_MS)
  node.tick()
  t.deepEqual(
    node.of('dropped').map((e) => e.reason),
    [`2 user messages from ${PEER} never arrived (lost in transit: a connection was cut or datagrams were lost)`],
  )
  t.is(a.info().lostInTransit, 2, '4 and 6')
  node.tick()
  t.is(node.of('dropped').length, 1, 'reported once')
  // The receiver tells the sender what arrived: once 100 ms after the last message.
  node.clock.advance(100)
  node.flush()
  t.deepEqual(
    node
      .control(a)
      .take()
      .filter((p) => p.type === 'user-ack'),
    [{ type: 'user-ack', seq: 8 }],
  )
})

test('a gap in the peer numbering counts as lost only after waiting LOSS_GRACE_MS; when the association ends, every missing number counts at once', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const envelope = (seq: number) =>
    a.handle({ type: 'user-envelope', seq, recipient: 'helios.tcp://A@127.0.0.1:1/user/x', sender: undefined, message: seq })
  for (const seq of [1, 4, 10, 2, 12]) envelope(seq) // missing: 3, 5-9, 11
  node.clock.advance(LOSS_GRACE_MS - 2000)
  node.tick() // one heartbeat interval (1 s) more: still within the grace
  t.is(a.info().lostInTransit, 0)
  envelope(6)
  envelope(11)
  a.quarantine('test', 'unreachable')
  t.is(a.stats.lostInTransit, 5, '3, 5, 7, 8, 9')
})

test('what the peer never confirmed when the association ends is reported as dropped, with its count', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const echo = node.ref(ECHO, a)
  for (let i = 0; i < 5; i++) echo.tell(i)
  a.handle({ type: 'user-ack', seq: 3 })
  a.quarantine('down: test', 'down', false)
  const [event] = node.of('dropped')
  t.regex(String(event?.reason), /^2 user messages sent to .* not confirmed before it was quarantined/)
  t.is(a.info().dropped, 2)
})

test("after both sides quarantined each other, the peer's notice reaches the association looking for it: the pair goes on under a new uid", (t) => {
  const node = new FakeNode()
  const a = establish(node)
  a.quarantine('unreachable (test)', 'unreachable')
  const probe = node.peer() // looks for whoever answers at the address, no uid yet
  probe.connect()
  probe.handle({ type: 'quarantined', from: { address: PEER, uid: 7n }, to: { address: 'helios.tcp://A@127.0.0.1:1', uid: 1n } })
  t.is(probe.state.kind, 'retired')
  const next = node.peer()
  t.not(next.localUid, 1n)
  t.is(next.onHandshakeRequest(7n, 9n, PEER_SESSION), 'accepted', "the peer's old uid is forgiven on this new pair")
})

test('a new claimant gets the whole handshake timeout, however long the association was looking; its uid is not refused if it never confirms', (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 3000 })
  const a = node.peer()
  const r = node.ref(`${ECHO}#1`, a)
  r.sendSystemMessage({ kind: 'watch', watchee: r, watcher: new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1') })
  node.tick(2) // looking for 2 s
  a.onHandshakeRequest(7n, 5n, PEER_SESSION) // a new incarnation introduces itself
  node.tick(2)
  t.is(a.state.kind, 'handshaking', 'not timed out 1 s after the claim')
  node.tick(1)
  t.is(a.state.kind, 'quarantined', 'timed out 3 s after the claim, with the watch told')
  t.deepEqual(node.of('addressTerminated'), [{ address: PEER }])
  t.is(node.peer().onHandshakeRequest(7n, 6n, PEER_SESSION), 'accepted', 'that never-confirmed uid may try again')
})

test('beyond maxAssociations a new address gets an association that refuses everything, with a warning; the others go on', (t) => {
  const node = new FakeNode({ maxAssociations: 2 })
  const b = establish(node)
  const c = node.peer('helios.tcp://C@127.0.0.1:3')
  const d = node.peer('helios.tcp://D@127.0.0.1:4')
  t.is(d.state.kind, 'retired')
  t.is(node.of('warn')[0]?.code, 'HELIOS_MAX_ASSOCIATIONS')
  node.ref('helios.tcp://D@127.0.0.1:4/user/x', d).tell('nowhere')
  t.deepEqual(
    node.of('deadLetter').map((e) => e.message),
    ['nowhere'],
  )
  t.is(b.state.kind, 'established')
  t.is(c.state.kind, 'idle')
  t.is(node.registry.get('helios.tcp://D@127.0.0.1:4'), undefined, 'kept nowhere')
})

test('a quarantined association is forgotten after forgetQuarantinedAfterMs, its uid still refused', (t) => {
  const node = new FakeNode({ forgetQuarantinedAfterMs: 5000 })
  const a = establish(node)
  a.quarantine('down: test', 'down', false)
  node.tick(4)
  t.is(node.registry.get(PEER), a)
  node.tick(2)
  t.is(node.registry.get(PEER), undefined)
  t.is(node.peer().onHandshakeRequest(7n, 1n, PEER_SESSION), 'refused')
})

test('a connect that fails for lack of file descriptors holds nothing against the peer', (t) => {
  const node = new FakeNode({ heartbeatIntervalMs: 1000, failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 3000 } })
  const a = establish(node)
  const echo = node.ref(`${ECHO}#5`, a)
  echo.sendSystemMessage({ kind: 'watch', watchee: echo, watcher: new ProbeRef('helios.tcp://A@127.0.0.1:1/user/w#1') })
  node.control(a).down()
  const emfile = Object.assign(new Error('connect EMFILE'), { cause: Object.assign(new Error('EMFILE'), { code: 'EMFILE' }) })
  for (let i = 0; i < 10; i++) {
    a.onConnectFailed(LaneId.control, emfile)
    node.tick()
  }
  t.is(a.state.kind, 'established', 'the silence was ours')
  t.is(node.of('warn')[0]?.code, 'HELIOS_EMFILE')
})

test('what a peer made the node hold goes with its association: incomplete messages count in the node budget and are released at quarantine', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const codec = new Codec()
  // The first half of a fragmented system envelope on the control lane, never completed.
  const fragment = codec.encode({ type: 'fragment', messageId: 3, totalLength: 200_000, offset: 0, chunk: new Uint8Array(102_400) })
  a.receive(fragment, 0, fragment.byteLength)
  t.is(a.info().reassemblyBytes, 102_400)
  t.is(node.memory.reassemblyBytes, 102_400)
  a.quarantine('down: test', 'down')
  t.is(a.info().reassemblyBytes, 0)
  t.is(node.memory.usedBytes, 0)
})

test("a fragment out of order fails its own message alone: the peer's other messages in progress complete", (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const codec = new Codec({ maxFrameSize: 1024 })
  const peer = codec.createAssociation({ localUid: 7n })
  const [first, second] = [1, 2].map((i) => peer.encodeUserMessage(ECHO, new Uint8Array(3000).fill(i)))
  const frame = (f: Uint8Array | undefined): void => a.receive(f as Uint8Array, 0, (f as Uint8Array).length)
  frame(first?.[0])
  frame(second?.[0])
  frame(first?.[2]) // first's second fragment is lost: first fails
  t.is(a.stats.decodeErrors, 1)
  for (const f of (second ?? []).slice(1)) frame(f)
  const delivered = node.of('deliverUser')
  t.is(delivered.length, 1)
  t.deepEqual(delivered[0]?.message, new Uint8Array(3000).fill(2))
  t.is(a.info().reassemblyBytes, 0)
})

test('a user envelope numbered far beyond the last received fails alone, and makes no count of lost messages', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const envelope = (seq: number, message: string): void => receiveEnvelope(a, seq, message)
  envelope(1, 'one')
  envelope(2 ** 40, 'forged')
  envelope(3, 'three')
  t.deepEqual(
    node.of('deliverUser').map((d) => d.message),
    ['one', 'three'],
  )
  t.is(a.stats.decodeErrors, 1)
  t.is(a.info().lostInTransit, 0)
  a.quarantine('test', 'unreachable')
  t.is(a.stats.lostInTransit, 1, 'number 2 never arrived: counted, and only it')
})

test("a peer whose handshake names a session of ours other than this association's still holds a forgotten association: its frames are dropped until it names ours", (t) => {
  const node = new FakeNode()
  const a = establish(node)
  const envelope = (seq: number, message: string): void => receiveEnvelope(a, seq, message)
  const ours = a.handshake.session
  envelope(1, 'in step')
  // The peer reconnects carrying the state of an association this node no longer has.
  t.is(a.onHandshakeRequest(7n, 9n, sessionOf(1, ours + 1000)), 'accepted')
  envelope(50, 'written for the forgotten association')
  a.receive(new Uint8Array([0x03, 0x90]), 0, 2) // a heartbeat still passes
  t.is(
    node
      .control(a)
      .take()
      .filter((p) => p.type === 'heartbeat-reply').length,
    1,
  )
  // It heard our session (our response) and names it: in step again.
  t.is(a.onHandshakeRequest(7n, 10n, sessionOf(1, ours)), 'accepted')
  envelope(2, 'in step again')
  t.deepEqual(
    node.of('deliverUser').map((d) => d.message),
    ['in step', 'in step again'],
  )
  t.is(a.info().lostInTransit, 0, 'nothing counted for what was dropped')
})

test('a handshake whose peer keeps talking is not given up after handshakeTimeoutMs of waiting, only after three times that; a silent one is', (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 3000 })
  const a = node.peer()
  node.ref(ECHO, a).tell('waits')
  t.is(a.state.kind, 'handshaking')
  // The peer is overloaded: its own request comes every 2 s, the answer to ours never. Its first
  // request (2 s in) makes it the claimant, who gets the whole time from then on.
  for (let s = 1; s <= 10; s++) {
    node.tick()
    if (s % 2 === 0) a.onHandshakeRequest(7n, BigInt(100 + s), PEER_SESSION)
    t.is(a.state.kind, 'handshaking', `still waiting ${s} s in`)
  }
  node.tick()
  t.is(a.state.kind, 'idle', 'given up 9 s (3 x 3 s) after the claimant came')
  t.deepEqual(
    node.of('dropped').map((e) => e.reason),
    [`handshake with ${PEER} timed out after 9000 ms (it talked, but never answered this node's request)`],
  )

  const silent = new FakeNode({ handshakeTimeoutMs: 3000 })
  const b = silent.peer()
  silent.ref(ECHO, b).tell('waits')
  silent.tick()
  b.onHandshakeRequest(7n, 5n, PEER_SESSION) // the claimant, 1 s in
  silent.tick(2)
  b.onHandshakeRequest(7n, 6n, PEER_SESSION) // heard again 3 s in, then never
  silent.tick(2)
  t.is(b.state.kind, 'handshaking', 'less than 3 s of silence since')
  silent.tick()
  t.is(b.state.kind, 'idle')
  t.deepEqual(
    silent.of('dropped').map((e) => e.reason),
    [`handshake with ${PEER} timed out after 5000 ms (nothing heard from it for 3000 ms)`],
  )
})

test('a user envelope that fails to decode is counted once, as undecodable, and not also as lost in transit', (t) => {
  const node = new FakeNode()
  const a = establish(node)
  receiveEnvelope(a, 1, 'one')
  // seq 2, its recipient written as compression index 5, which the peer never advertised
  const bad = Uint8Array.from([0x10, 0x02, 0x05, 0xc0, 0x01])
  a.receive(bad, 0, bad.length)
  receiveEnvelope(a, 3, 'three')
  t.is(a.stats.decodeErrors, 1)
  t.is(node.of('decodeFailed').length, 1)
  t.regex(String(node.of('decodeFailed')[0]?.error), /compression index 5/)
  node.clock.advance(LOSS_GRACE_MS)
  node.tick()
  a.quarantine('test', 'unreachable')
  t.is(a.stats.lostInTransit, 0, 'number 2 arrived; it failed, and is counted as that alone')
  t.deepEqual(
    node.of('dropped').filter((e) => e.kind === 'lost-in-transit'),
    [],
  )
})

test("a claimant's incomplete messages go when its control connection closes, before its handshake ends; a claimant alone gets half the handshake timeout", (t) => {
  const node = new FakeNode({ handshakeTimeoutMs: 3000 })
  const a = node.peer()
  t.is(a.onHandshakeRequest(7n, 5n, PEER_SESSION), 'accepted') // nothing of ours asked for this address
  const fragment = new Codec().encode({ type: 'fragment', messageId: 3, totalLength: 200_000, offset: 0, chunk: new Uint8Array(102_400) })
  a.receive(fragment, 0, fragment.byteLength)
  t.is(node.memory.reassemblyBytes, 102_400)
  a.inboundControlLaneClosed()
  t.is(a.info().reassemblyBytes, 0)
  t.is(node.memory.usedBytes, 0, 'released at once, not when the handshake times out')
  t.is(a.state.kind, 'handshaking')
  node.tick()
  t.is(a.state.kind, 'handshaking')
  node.tick()
  t.is(a.state.kind, 'idle', 'the claimant alone, silent for 1.5 s (half of 3 s): given up')
  t.deepEqual(
    node.of('handshakeFailed').map((e) => e.reason),
    [`handshake with ${PEER} timed out after 1500 ms`],
  )
})

// ------------------------------------------------------------------------ udp: port unreachable

/** A udp node whose association with the peer was established by a response from `source`. */
function udpEstablished(source = '127.0.0.1:2'): { node: FakeNode; a: Association } {
  const node = new FakeNode({ transport: 'udp' })
  node.datagramSource = source
  const a = establish(node)
  node.datagramSource = undefined
  return { node, a }
}

/** A frame from the peer, as its datagrams bring them. */
function peerFrame(a: Association): void {
  const f = peerCodec.encode({ type: 'ack', cumulative: 0, selective: [] })
  a.receive(f, 0, f.byteLength)
}

test('over udp the endpoint that answered the handshake is the verified one', (t) => {
  const { a } = udpEstablished('127.0.0.1:2')
  t.is(a.verifiedEndpoint, '127.0.0.1:2')
  t.is(establish(new FakeNode()).verifiedEndpoint, undefined, 'tcp: none')
})

test('over udp a port unreachable declares the peer down once it is quiet, and not for another endpoint', (t) => {
  const { node, a } = udpEstablished()
  a.onPortUnreachable('127.0.0.1:9')
  node.clock.advance(1000)
  t.is(a.state.kind, 'established', 'not the endpoint that answered the handshake')
  node.control(a).take()
  a.onPortUnreachable('127.0.0.1:2')
  node.flush()
  t.deepEqual(
    node
      .control(a)
      .take()
      .map((p) => p.type),
    ['heartbeat'],
    'a live peer would answer it',
  )
  // What the peer sent before it went is read after the error: the verdict waits for it.
  node.clock.advance(60)
  peerFrame(a)
  node.clock.advance(60)
  t.is(a.state.kind, 'established')
  node.clock.advance(100)
  t.is(a.state.kind, 'quarantined')
  t.deepEqual(
    node.of('quarantined').map((e) => e.reason),
    ['down: 127.0.0.1:2 answered with port unreachable (nothing listens there any more)'],
  )
})

test('over udp a peer that keeps sending after a port unreachable is alive: it stays', (t) => {
  const { node, a } = udpEstablished()
  a.onPortUnreachable('127.0.0.1:2')
  for (let i = 0; i < 60; i++) {
    node.clock.advance(50)
    peerFrame(a)
  }
  node.clock.advance(1000)
  t.is(a.state.kind, 'established')
  t.deepEqual(node.of('quarantined'), [])
})

test('over udp a port unreachable checked during shutdown declares nothing', (t) => {
  const { node, a } = udpEstablished()
  a.onPortUnreachable('127.0.0.1:2')
  node.isShuttingDown = true
  node.clock.advance(1000)
  t.is(a.state.kind, 'established')
  a.onPortUnreachable('127.0.0.1:2')
  node.clock.advance(1000)
  t.deepEqual(node.of('quarantined'), [])
})

test('over udp with downOnConnectionRefused off, and over dtls, a port unreachable declares nothing', (t) => {
  for (const options of [{ transport: 'udp' as const, downOnConnectionRefused: false }, { transport: 'dtls' as const }]) {
    const node = new FakeNode(options)
    node.datagramSource = '127.0.0.1:2'
    const a = establish(node)
    a.onPortUnreachable('127.0.0.1:2')
    node.clock.advance(1000)
    t.is(a.state.kind, 'established', options.transport)
  }
})
