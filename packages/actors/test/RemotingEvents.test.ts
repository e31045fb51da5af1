import test from 'ava'
import { ManualClock } from '@helios/transport/testing'
import type { HandshakeFailedEvent } from '../src/index.js'
import { Address } from '../src/Address.js'
import { ActorSystemEvents } from '../src/ActorSystemEvents.js'
import { SystemLog } from '../src/internal/SystemLog.js'
import { RemotingEvents } from '../src/remote/RemotingEvents.js'

const LOCAL = new Address('helios.tcp', 'A', '127.0.0.1', 1)

function node(): { events: RemotingEvents; clock: ManualClock; published: HandshakeFailedEvent[] } {
  const clock = new ManualClock(0)
  const system = new ActorSystemEvents(() => LOCAL)
  const published: HandshakeFailedEvent[] = []
  system.on('handshakeFailed', (e) => published.push(e))
  const log = new SystemLog({ level: 'silent', repeatIntervalMs: 1000 }, clock, () => LOCAL.toString())
  return { events: new RemotingEvents(system, log, () => LOCAL), clock, published }
}

const total = (events: readonly HandshakeFailedEvent[]): number => events.reduce((n, e) => n + (e.count ?? 1), 0)

test('a flood of refusals of one peer publishes the first at once, then the count of the rest once per interval', (t) => {
  const { events, clock, published } = node()
  for (let i = 0; i < 1000; i++) {
    events.handshakeFailed(`127.0.0.2:${40000 + i}`, `bad preamble: wrong magic at byte ${i % 8}`, true, undefined, '127.0.0.2')
    if (i === 499) clock.advance(500)
  }
  t.is(published.length, 1)
  t.is(published[0]?.count, undefined)
  t.is(published[0]?.remote, '127.0.0.2:40000')
  clock.advance(499)
  t.is(published.length, 1, 'not before the interval ends')
  clock.advance(1)
  t.is(published.length, 2)
  t.is(published[1]?.count, 999)
  t.is(published[1]?.remote, '127.0.0.2:40999', 'the latest of them')
  t.is(total(published), 1000)
  // A quiet interval later, the next one is published at once again.
  clock.advance(5000)
  events.handshakeFailed('127.0.0.2:1', 'bad preamble: wrong magic at byte 0', true, undefined, '127.0.0.2')
  t.is(published.length, 3)
  t.is(published[2]?.count, undefined)
})

test('kinds are the peer (its source address) and the shape of the reason; counts pending at shutdown are published by flush', (t) => {
  const { events, published } = node()
  for (let i = 0; i < 10; i++) {
    events.handshakeFailed(`10.0.0.1:${i}`, 'no preamble within 2000 ms', true, undefined, '10.0.0.1')
    events.handshakeFailed(`10.0.0.2:${i}`, 'no preamble within 2000 ms', true, undefined, '10.0.0.2')
    // Another reason, and addresses a peer names itself, make no new kind for each name.
    events.handshakeFailed(
      `helios.tcp://X${i}@10.0.0.1:9`,
      `handshake meant for helios.tcp://Other${i}@h:1, this node is ${LOCAL}`,
      true,
      undefined,
      '10.0.0.1',
    )
    // Outbound: the peer is the address this node dialled.
    events.handshakeFailed('helios.tls://B@10.0.0.3:2552', `TLS handshake with 10.0.0.3:2552 failed: certificate has expired (${i})`, false)
  }
  t.is(published.length, 4)
  t.deepEqual(
    published.map((e) => e.remote),
    ['10.0.0.1:0', '10.0.0.2:0', 'helios.tcp://X0@10.0.0.1:9', 'helios.tls://B@10.0.0.3:2552'],
  )
  events.flush()
  t.is(published.length, 8)
  t.deepEqual(
    published.slice(4).map((e) => e.count),
    [9, 9, 9, 9],
  )
  t.is(total(published), 40)
  events.flush()
  t.is(published.length, 8, 'nothing twice')
})

test('past 64 new kinds in an interval, refusals are counted together: the events stay bounded and add up', (t) => {
  const { events, clock, published } = node()
  for (let i = 0; i < 5000; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    events.handshakeFailed(`${ip}:1`, 'no preamble within 2000 ms', true, undefined, ip)
  }
  t.is(published.length, 65, '64 kinds, and the first of the catch-all')
  clock.advance(1000)
  t.is(published.length, 66)
  t.is(published[65]?.count, 5000 - 65)
  t.is(total(published), 5000)
})
