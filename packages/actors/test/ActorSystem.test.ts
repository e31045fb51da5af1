import test from 'ava'
import {
  ActorNotFound,
  ActorSystem,
  ActorSystemTerminatedError,
  AskTimeoutError,
  InvalidActorNameError,
  ManualClock,
  PoisonPill,
  type ActorRef,
} from '../src/index.js'
import { TestProbe } from './helpers/TestProbe.js'

test('a local-only system has the address helios://name and paths under /user', async (t) => {
  const system = await ActorSystem.create('A')
  t.is(system.address.toString(), 'helios://A')
  const echo = system.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'echo')
  t.is(echo.path.toString(), 'helios://A/user/echo')
  t.true(typeof echo.path.uid === 'number' && echo.path.uid > 0 && echo.path.uid < 2 ** 32)
  t.is(typeof system.nodeUid, 'bigint')
  await system.terminate()
})

test('ask resolves with the reply of an echo actor', async (t) => {
  const system = await ActorSystem.create('A')
  const echo = system.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'echo')
  t.is(await system.ask<string>(echo, 'hello', { timeoutMs: 1000 }), 'hello')
  await system.terminate()
})

test('ask rejects with AskTimeoutError when no reply comes in time', async (t) => {
  const clock = new ManualClock()
  const system = await ActorSystem.create('A', { clock })
  const silent = system.actorOf(() => {}, 'silent')
  const reply = system.ask(silent, 'anyone?', { timeoutMs: 500 })
  clock.advance(499)
  clock.advance(1)
  const error = await t.throwsAsync(reply, { instanceOf: AskTimeoutError })
  t.is(error?.code, 'ERR_ASK_TIMEOUT')
  t.is(error?.timeoutMs, 500)
  await system.terminate()
})

test('a late reply to a timed-out ask is a dead letter', async (t) => {
  const clock = new ManualClock()
  const system = await ActorSystem.create('A', { clock })
  let asker: ActorRef | undefined
  const slow = system.actorOf((_m, ctx) => {
    asker = ctx.sender
  })
  const reply = system.ask(slow, 'q', { timeoutMs: 10 })
  await new Promise<void>((resolve) => setImmediate(resolve))
  clock.advance(10)
  await t.throwsAsync(reply, { instanceOf: AskTimeoutError })
  asker?.tell('too late')
  t.is(system.deadLetterCount, 1)
  await system.terminate()
})

test('handles messages one at a time and in order even when the behavior is async', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  let running = 0
  let maxRunning = 0
  const worker = system.actorOf(async (message: number, ctx) => {
    running++
    maxRunning = Math.max(maxRunning, running)
    // Later messages finish faster: only a strict one-at-a-time mailbox keeps the order.
    await new Promise<void>((resolve) => (message % 2 === 0 ? setImmediate(resolve) : queueMicrotask(resolve)))
    await Promise.resolve()
    running--
    probe.ref.tell(message, ctx.self)
  })
  for (let i = 0; i < 50; i++) worker.tell(i)
  const got = await probe.take(50)
  t.deepEqual(
    got,
    Array.from({ length: 50 }, (_, i) => i),
  )
  t.is(maxRunning, 1)
  await system.terminate()
})

test('delivers 100,000 local messages in order', async (t) => {
  const system = await ActorSystem.create('A')
  const n = 100_000
  const result = new Promise<{ outOfOrder: number; count: number }>((resolve) => {
    let expected = 0
    let outOfOrder = 0
    const sink = system.actorOf((message: number) => {
      if (message !== expected) outOfOrder++
      expected++
      if (expected === n) resolve({ outOfOrder, count: expected })
    }, 'sink')
    for (let i = 0; i < n; i++) sink.tell(i)
  })
  t.deepEqual(await result, { outOfOrder: 0, count: n })
  await system.terminate()
})

test('keeps per-sender order when two actors ping-pong 10,000 times', async (t) => {
  const system = await ActorSystem.create('A')
  const finished = new Promise<number>((resolve) => {
    const pong = system.actorOf((message: number, ctx) => {
      ctx.sender?.tell(message + 1, ctx.self)
    }, 'pong')
    const ping = system.actorOf((message: number, ctx) => {
      if (message >= 10_000) resolve(message)
      else pong.tell(message, ctx.self)
    }, 'ping')
    ping.tell(0)
  })
  t.is(await finished, 10_000)
  await system.terminate()
})

test('lets other actors progress while one actor has a long backlog', async (t) => {
  const system = await ActorSystem.create('A', { throughput: 10 })
  const order: string[] = []
  const done = new Promise<void>((resolve) => {
    const busy = system.actorOf((m: number) => {
      if (m === 0) order.push('busy-first')
      if (m === 999) {
        order.push('busy-last')
        resolve()
      }
    })
    const other = system.actorOf(() => {
      order.push('other')
    })
    for (let i = 0; i < 1000; i++) busy.tell(i)
    other.tell('x')
  })
  await done
  t.deepEqual(order, ['busy-first', 'other', 'busy-last'])
  await system.terminate()
})

test('refuses a taken, reserved or malformed actor name', async (t) => {
  const system = await ActorSystem.create('A')
  system.actorOf(() => {}, 'a')
  t.throws(() => system.actorOf(() => {}, 'a'), { instanceOf: InvalidActorNameError, code: 'ERR_INVALID_ACTOR_NAME' })
  t.throws(() => system.actorOf(() => {}, '$x'), { instanceOf: InvalidActorNameError })
  t.throws(() => system.actorOf(() => {}, 'a/b'), { instanceOf: InvalidActorNameError })
  const anonymous = system.actorOf(() => {})
  t.true(anonymous.path.name.startsWith('$'))
  await system.terminate()
})

test('actorSelection resolves a live local actor, including by a relative path', async (t) => {
  const system = await ActorSystem.create('A')
  const parent = system.actorOf((_m, ctx) => {
    ctx.sender?.tell(ctx.actorOf(() => {}, 'child'))
  }, 'parent')
  const child = await system.ask<ActorRef>(parent, 'make', { timeoutMs: 1000 })
  const viaAbsolute = await system.actorSelection('helios://A/user/parent/child').resolveOne({ timeoutMs: 100 })
  const viaRelative = await system.actorSelection('/user/parent/child').resolveOne()
  t.true(viaAbsolute.equals(child))
  t.true(viaRelative.equals(child))
  t.is(viaAbsolute.path.uid, child.path.uid)
  t.is(system.resolveActorRef(child.path.toSerializationFormat()), child)
  await system.terminate()
})

test('actorSelection rejects with ActorNotFound when no actor lives at the path', async (t) => {
  const system = await ActorSystem.create('A')
  const error = await t.throwsAsync(system.actorSelection('/user/nobody').resolveOne({ timeoutMs: 100 }), { instanceOf: ActorNotFound })
  t.is(error?.code, 'ERR_ACTOR_NOT_FOUND')
  await t.throwsAsync(system.actorSelection('helios.tcp://B@127.0.0.1:5000/user/echo').resolveOne({ timeoutMs: 100 }), {
    instanceOf: ActorNotFound,
  })
  await system.terminate()
})

test('a PoisonPill stops the actor after the messages sent before it', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const actor = system.actorOf((m) => {
    probe.ref.tell(m)
  })
  actor.tell(1)
  actor.tell(2)
  actor.tell(PoisonPill)
  actor.tell(3)
  t.deepEqual(await probe.take(2), [1, 2])
  await system.terminate()
  t.is(system.deadLetterCount, 1) // the 3
})

test('a bounded mailbox sends overflow to dead letters', async (t) => {
  const system = await ActorSystem.create('A')
  const actor = system.actorOf(() => {}, 'bounded', { mailboxCapacity: 5 })
  for (let i = 0; i < 8; i++) actor.tell(i)
  t.is(system.deadLetterCount, 3)
  await system.terminate()
})

test('terminate is idempotent, stops every actor and refuses new ones', async (t) => {
  const system = await ActorSystem.create('A')
  const a = system.actorOf(() => {}, 'a')
  const first = system.terminate()
  t.is(system.terminate(), first)
  await first
  t.true(system.isTerminated)
  a.tell('after')
  t.is(system.deadLetterCount, 1)
  t.throws(() => system.actorOf(() => {}), { instanceOf: ActorSystemTerminatedError, code: 'ERR_SYSTEM_TERMINATED' })
  await t.throwsAsync(system.ask(a, 'x'), { instanceOf: ActorSystemTerminatedError })
})

test('terminate fails pending asks', async (t) => {
  const system = await ActorSystem.create('A')
  const silent = system.actorOf(() => {})
  const reply = system.ask(silent, 'q', { timeoutMs: 60_000 })
  await system.terminate()
  await t.throwsAsync(reply, { instanceOf: ActorSystemTerminatedError })
})

test('terminate completes even while a behavior awaits a promise that never settles', async (t) => {
  const system = await ActorSystem.create('A')
  const started = new Promise<void>((resolve) => {
    system
      .actorOf(() => {
        resolve()
        return new Promise<void>(() => {})
      })
      .tell('hang')
  })
  await started
  await system.terminate()
  t.true(system.isTerminated)
})

test('ActorSystem.create refuses an invalid system name', async (t) => {
  await t.throwsAsync(ActorSystem.create('bad name'), { code: 'ERR_INVALID_ADDRESS' })
})

test('ActorSystem.create fails with a typed error when remoting cannot bind its port', async (t) => {
  const first = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  t.teardown(() => first.terminate())
  await t.throwsAsync(ActorSystem.create('B', { remote: { transport: 'tcp', host: '127.0.0.1', port: first.address.port as number } }), {
    code: 'ERR_REMOTING_UNAVAILABLE',
  })
})

test('an actor that keeps sending to itself does not starve timers and I/O', async (t) => {
  const system = await ActorSystem.create('A')
  let syncCount = 0
  let asyncCount = 0
  system
    .actorOf((m, ctx) => {
      syncCount++
      ctx.self.tell(m)
    })
    .tell('spin')
  system
    .actorOf(async (m, ctx) => {
      await Promise.resolve()
      asyncCount++
      ctx.self.tell(m)
    })
    .tell('spin')
  await new Promise<void>((resolve) => setTimeout(resolve, 5))
  t.true(syncCount > 0)
  t.true(asyncCount > 0)
  await system.terminate()
})
