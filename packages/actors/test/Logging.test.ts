import test from 'ava'
import { ManualClock } from '@helios/transport/testing'
import { ActorSystem, type DroppedEvent } from '../src/index.js'
import { Address } from '../src/Address.js'
import { ActorSystemEvents } from '../src/ActorSystemEvents.js'
import { SystemLog } from '../src/internal/SystemLog.js'
import type { LoggerOption } from '../src/Logger.js'
import type { Association } from '../src/remote/Association.js'
import { RemotingEvents } from '../src/remote/RemotingEvents.js'

// The system's log: levels, the rate limit per kind of trouble, and the line each kind of
// remoting trouble writes (the remote tests check the same lines with real sockets).

interface Line {
  level: string
  message: string
}

function capture(): {
  lines: Line[]
  sink: { debug: (m: string) => void; info: (m: string) => void; warn: (m: string) => void; error: (m: string) => void }
} {
  const lines: Line[] = []
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message })
    }
  return { lines, sink: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

function log(
  option: (sink: ReturnType<typeof capture>['sink']) => LoggerOption,
  clock = new ManualClock(0),
): { log: SystemLog; lines: Line[]; clock: ManualClock } {
  const c = capture()
  return { log: new SystemLog(option(c.sink), clock, () => 'helios://T'), lines: c.lines, clock }
}

test('the first occurrence of a kind is written at once, repeats as one count per interval, then the next first occurrence again', (t) => {
  const { log: l, lines, clock } = log((sink) => ({ sink, repeatIntervalMs: 1000 }))
  for (let i = 0; i < 1000; i++)
    l.report(
      'warn',
      'k',
      () => `trouble ${i}`,
      (n) => `${n} more troubles`,
    )
  t.deepEqual(lines, [{ level: 'warn', message: '[helios://T] trouble 0' }])
  clock.advance(1000)
  t.deepEqual(lines.slice(1), [{ level: 'warn', message: '[helios://T] 999 more troubles (in the last 1 s)' }])
  // A flood that goes on: still one line per interval.
  for (let i = 0; i < 10; i++)
    l.report(
      'warn',
      'k',
      () => 'again',
      (n) => `${n} more troubles`,
    )
  clock.advance(1000)
  t.is(lines.length, 3)
  t.is(lines[2]?.message, '[helios://T] 10 more troubles (in the last 1 s)')
  // Quiet for an interval: the next one is a first occurrence again.
  clock.advance(1000)
  l.report(
    'warn',
    'k',
    () => 'trouble after a quiet second',
    (n) => `${n} more`,
  )
  t.is(lines[3]?.message, '[helios://T] trouble after a quiet second')
  // Another kind is not held back by the first.
  l.report(
    'warn',
    'other',
    () => 'other trouble',
    (n) => `${n} more`,
  )
  t.is(lines[4]?.message, '[helios://T] other trouble')
})

test('events that stand for several messages add their counts; flush writes what is pending', (t) => {
  const { log: l, lines } = log((sink) => ({ sink }))
  l.report(
    'warn',
    'lost',
    () => '3 lost',
    (n) => `${n} more lost`,
    3,
  )
  l.report(
    'warn',
    'lost',
    () => '4 lost',
    (n) => `${n} more lost`,
    4,
  )
  l.report(
    'warn',
    'lost',
    () => '5 lost',
    (n) => `${n} more lost`,
    5,
  )
  t.is(lines.length, 1)
  l.flush()
  t.regex(lines[1]?.message ?? '', /^\[helios:\/\/T\] 9 more lost \(in the last 1 s\)$/)
  l.flush()
  t.is(lines.length, 2, 'nothing pending twice')
})

test('levels: below the level nothing is written (nor built); silent writes nothing; the default is warn', (t) => {
  const built: string[] = []
  const { log: l, lines } = log((sink) => ({ sink, level: 'error' }))
  l.report(
    'warn',
    'w',
    () => {
      built.push('w')
      return 'w'
    },
    (n) => `${n}`,
  )
  l.report(
    'error',
    'e',
    () => 'e',
    (n) => `${n}`,
  )
  t.deepEqual(
    lines.map((x) => x.message),
    ['[helios://T] e'],
  )
  t.deepEqual(built, [])
  const silent = log(() => 'silent')
  silent.log.report(
    'error',
    'e',
    () => 'e',
    (n) => `${n}`,
  )
  t.false(silent.log.enabled('error'))
  const custom = log((sink) => sink)
  t.true(custom.log.enabled('warn'))
  t.false(custom.log.enabled('info'))
  custom.log.write('info', 'not written')
  custom.log.write('warn', 'written')
  t.deepEqual(
    custom.lines.map((x) => x.message),
    ['[helios://T] written'],
  )
  t.throws(() => log(() => 'loud' as never), { message: /logger level must be one of/ })
})

test('HELIOS_LOG_LEVEL sets the level when the logger option is not given', (t) => {
  const before = process.env['HELIOS_LOG_LEVEL']
  try {
    process.env['HELIOS_LOG_LEVEL'] = 'error'
    t.false(new SystemLog(undefined, new ManualClock(0), () => '').enabled('warn'))
    process.env['HELIOS_LOG_LEVEL'] = 'debug'
    t.true(new SystemLog(undefined, new ManualClock(0), () => '').enabled('debug'))
    t.false(new SystemLog('warn', new ManualClock(0), () => '').enabled('info'), 'an explicit level wins')
    process.env['HELIOS_LOG_LEVEL'] = 'nonsense'
    t.true(new SystemLog(undefined, new ManualClock(0), () => '').enabled('warn'))
    t.false(new SystemLog(undefined, new ManualClock(0), () => '').enabled('info'))
  } finally {
    if (before === undefined) delete process.env['HELIOS_LOG_LEVEL']
    else process.env['HELIOS_LOG_LEVEL'] = before
  }
})

test('a logger that throws does not disturb the system', (t) => {
  const l = new SystemLog(
    {
      sink: {
        info() {
          throw new Error('x')
        },
        warn() {
          throw new Error('x')
        },
        error() {
          throw new Error('x')
        },
      },
    },
    new ManualClock(0),
    () => '',
  )
  t.notThrows(() =>
    l.report(
      'warn',
      'k',
      () => 'm',
      (n) => `${n}`,
    ),
  )
})

test('a failed actor and dead letters are logged (error and info), with the system address', async (t) => {
  const c = capture()
  const system = await ActorSystem.create('L', { logger: { level: 'info', sink: c.sink } })
  const failing = system.actorOf(() => {
    throw new TypeError('boom')
  }, 'failing')
  failing.tell({ hello: 'world' })
  await new Promise((r) => setTimeout(r, 10))
  failing.tell('after')
  await system.terminate()
  t.deepEqual(
    c.lines.map((l) => `${l.level} ${l.message}`),
    [
      "error [helios://L] actor helios://L/user/failing failed handling { hello: 'world' } and was stopped: TypeError: boom",
      "info [helios://L] dead letter: 'after' to helios://L/user/failing",
    ],
  )
})

// ------------------------------------------------------------------ the remoting's lines, kind by kind

const LOCAL = Address.parse('helios.tcp://A@127.0.0.1:1')
const PEER = Address.parse('helios.tcp://B@127.0.0.1:2')
const assoc = { key: PEER.toString(), remoteAddress: PEER, uid: 7n, localUid: 1n } as unknown as Association

function remoting(): { events: RemotingEvents; lines: Line[]; clock: ManualClock; published: DroppedEvent[] } {
  const c = capture()
  const clock = new ManualClock(0)
  const system = new ActorSystemEvents(() => LOCAL)
  const published: DroppedEvent[] = []
  system.on('dropped', (d) => published.push(d))
  return {
    events: new RemotingEvents(
      system,
      new SystemLog({ sink: c.sink, level: 'info', repeatIntervalMs: 1000 }, clock, () => LOCAL.toString()),
      () => LOCAL,
    ),
    lines: c.lines,
    clock,
    published,
  }
}

test('each kind of dropped message writes its line, and its count line names the kind', (t) => {
  const cases: [DroppedEvent['kind'], string, number | undefined, string, string][] = [
    [
      'queue-full',
      'outbound queue full (16384)',
      undefined,
      'dropped a message to r: outbound queue full (16384)',
      '9 more messages to helios.tcp://B@127.0.0.1:2 dropped: outbound queue full',
    ],
    [
      'not-serializable',
      'cannot encode: instance of unregistered class Foo; register it in the MessageRegistry',
      undefined,
      'dropped a message to r: cannot encode: instance of unregistered class Foo; register it in the MessageRegistry',
      '9 more messages to helios.tcp://B@127.0.0.1:2 dropped: cannot be serialized (class not registered?)',
    ],
    [
      'too-large',
      'cannot encode: message of 5000 bytes exceeds maxMessageSize 4096',
      undefined,
      'dropped a message to r: cannot encode: message of 5000 bytes exceeds maxMessageSize 4096',
      '9 more messages to helios.tcp://B@127.0.0.1:2 dropped: too large',
    ],
    [
      'unknown-manifest',
      'decode failed: no message class registered for manifest "app.Foo"',
      undefined,
      'dropped a message to r: decode failed: no message class registered for manifest "app.Foo"',
      '9 more messages from helios.tcp://B@127.0.0.1:2 dropped: class not registered on this node',
    ],
    [
      'lost-in-transit',
      '3 user messages from B never arrived (lost in transit)',
      3,
      'dropped: 3 user messages from B never arrived (lost in transit)',
      '27 more messages from helios.tcp://B@127.0.0.1:2 dropped: lost in transit',
    ],
    [
      'unconfirmed',
      '2 user messages sent to B not confirmed before it was quarantined',
      2,
      'dropped: 2 user messages sent to B not confirmed before it was quarantined',
      '18 more messages to helios.tcp://B@127.0.0.1:2 dropped: not confirmed when the association ended',
    ],
    [
      'undelivered',
      'handshake with B timed out after 10000 ms',
      undefined,
      'dropped a message to r: handshake with B timed out after 10000 ms',
      '9 more messages to helios.tcp://B@127.0.0.1:2 dropped: undelivered when the association ended',
    ],
  ]
  for (const [kind, reason, count, first, repeats] of cases) {
    const { events, lines, clock, published } = remoting()
    for (let i = 0; i < 10; i++) events.dropped({ remote: PEER, recipient: 'r', kind, reason, ...(count !== undefined ? { count } : {}) })
    clock.advance(1000)
    t.deepEqual(
      lines.map((l) => l.message),
      [`[${LOCAL.toString()}] ${first}`, `[${LOCAL.toString()}] ${repeats} (in the last 1 s)`],
      kind,
    )
    t.true(lines.every((l) => l.level === 'warn'))
    t.is(published.length, 10)
    t.is(published[0]?.kind, kind)
    t.is(published[0]?.count, count)
  }
})

test('refused handshakes say which; connect failures name the address and errno; quarantines and pauses are warned', (t) => {
  const { events, lines } = remoting()
  events.handshakeFailed('helios.tcp://B@127.0.0.1:2', 'handshake from quarantined node helios.tcp://B@127.0.0.1:2 uid 7', true)
  events.handshakeFailed(
    'helios.tcp://B@127.0.0.1:2',
    'restart claim of helios.tcp://B@127.0.0.1:2 uid 8 refused: uid 7 still answers at helios.tcp://B@127.0.0.1:2',
    true,
  )
  events.handshakeFailed('127.0.0.1:50000', 'handshake meant for helios.tcp://X@127.0.0.1:1, this node is helios.tcp://A@127.0.0.1:1', true)
  events.handshakeFailed('127.0.0.1:50001', 'handshake meant for helios.tcp://X@127.0.0.1:1, this node is helios.tcp://A@127.0.0.1:1', true) // same kind: counted
  const refused = Object.assign(new Error('connect to 127.0.0.1:2 refused'), {
    code: 'ERR_CONNECT_REFUSED',
    cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
  })
  events.connectFailed(assoc, 0, refused, 'connection refused at 127.0.0.1:2')
  events.connectFailed(assoc, 0, refused, 'connection refused at 127.0.0.1:2')
  events.quarantined(assoc, 7n, 'unreachable (phi 12.3 >= 10)', undefined, 'unreachable')
  events.quarantined(assoc, 7n, 'node restarted (uid 9 confirmed at helios.tcp://B@127.0.0.1:2)', undefined, 'restarted')
  events.quarantined(assoc, 7n, 'peer shut down: actor system terminated', undefined, 'shutdown')
  events.warn(
    'HELIOS_QUARANTINED',
    PEER.toString(),
    'helios.tcp://B@127.0.0.1:2 quarantined this node (helios.tcp://A@127.0.0.1:1 uid 1): the peer quarantined this node.',
  )
  events.warn('HELIOS_PAUSED', 'pause', 'helios.tcp://A@127.0.0.1:1 did not run for 3000 ms')
  const at = `[${LOCAL.toString()}] `
  t.deepEqual(
    lines.map((l) => `${l.level} ${l.message.slice(at.length)}`),
    [
      'warn refused a connection from helios.tcp://B@127.0.0.1:2: handshake from quarantined node helios.tcp://B@127.0.0.1:2 uid 7',
      'warn refused a connection from helios.tcp://B@127.0.0.1:2: restart claim of helios.tcp://B@127.0.0.1:2 uid 8 refused: uid 7 still answers at helios.tcp://B@127.0.0.1:2',
      'warn refused a connection from 127.0.0.1:50000: handshake meant for helios.tcp://X@127.0.0.1:1, this node is helios.tcp://A@127.0.0.1:1',
      'warn cannot connect to helios.tcp://B@127.0.0.1:2: connection refused at 127.0.0.1:2 (ECONNREFUSED); retrying with backoff while messages or watches wait',
      'warn quarantined: helios.tcp://B@127.0.0.1:2 uid 7: unreachable (phi 12.3 >= 10); watchers of its actors got Terminated',
      'warn quarantined: helios.tcp://B@127.0.0.1:2 uid 7: node restarted (uid 9 confirmed at helios.tcp://B@127.0.0.1:2); watchers of its actors got Terminated',
      'info association ended: helios.tcp://B@127.0.0.1:2 uid 7: peer shut down: actor system terminated; watchers of its actors got Terminated',
      'warn HELIOS_QUARANTINED: helios.tcp://B@127.0.0.1:2 quarantined this node (helios.tcp://A@127.0.0.1:1 uid 1): the peer quarantined this node.',
      'warn HELIOS_PAUSED: helios.tcp://A@127.0.0.1:1 did not run for 3000 ms',
    ],
  )
})
