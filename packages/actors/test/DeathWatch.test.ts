import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import test from 'ava'
import { ActorSystem, DeadLetter, Terminated, type ActorFailedEvent, type ActorRef } from '../src/index.js'
import { TestProbe } from './helpers/TestProbe.js'

/** An actor that watches what it is told to watch and forwards every Terminated to `probe`. */
function watcher(system: ActorSystem, probe: TestProbe): ActorRef {
  return system.actorOf((message, ctx) => {
    if (message instanceof Terminated) probe.ref.tell(message)
    else if (typeof message === 'object' && message !== null && 'watch' in message) {
      ctx.watch((message as { watch: ActorRef }).watch)
      ctx.sender?.tell('watching')
    } else if (typeof message === 'object' && message !== null && 'unwatch' in message) {
      ctx.unwatch((message as { unwatch: ActorRef }).unwatch)
      ctx.sender?.tell('unwatched')
    }
  })
}

test('a watcher gets Terminated with the watched ref when the actor stops', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const target = system.actorOf(() => {}, 'target')
  const w = watcher(system, probe)
  await system.ask(w, { watch: target })
  system.stop(target)
  const terminated = (await probe.next()) as Terminated
  t.true(terminated instanceof Terminated)
  t.is(terminated.ref, target)
  t.true(terminated.existenceConfirmed)
  t.false(terminated.addressTerminated)
  await system.terminate()
})

test('watching an already-dead actor delivers Terminated at once', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const target = system.actorOf(() => {}, 'target')
  const w0 = watcher(system, probe)
  await system.ask(w0, { watch: target })
  system.stop(target)
  await probe.next()
  const w = watcher(system, probe)
  await system.ask(w, { watch: target })
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, target)
  await system.terminate()
})

test('watching a path where no actor ever lived delivers Terminated without existence confirmed', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const ghost = system.resolveActorRef('helios://A/user/ghost')
  const w = watcher(system, probe)
  await system.ask(w, { watch: ghost })
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, ghost)
  t.false(terminated.existenceConfirmed)
  await system.terminate()
})

test('unwatch prevents the Terminated', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const target = system.actorOf(() => {}, 'target')
  const other = system.actorOf(() => {}, 'other')
  const w = watcher(system, probe)
  await system.ask(w, { watch: target })
  await system.ask(w, { watch: other })
  await system.ask(w, { unwatch: target })
  system.stop(target)
  system.stop(other)
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, other) // and nothing for target before it
  await system.terminate()
})

test('stop stops children first, then the actor', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const parent = system.actorOf((_m, ctx) => {
    const child = ctx.actorOf((_m2, ctx2) => {
      ctx2.sender?.tell(ctx2.actorOf(() => {}, 'grandchild'))
    }, 'child')
    ctx.sender?.tell(child)
  }, 'parent')
  const child = await system.ask<ActorRef>(parent, 'make')
  const grandchild = await system.ask<ActorRef>(child, 'make')
  t.is(grandchild.path.toString(), 'helios://A/user/parent/child/grandchild')
  const w = watcher(system, probe)
  await system.ask(w, { watch: parent })
  await system.ask(w, { watch: child })
  await system.ask(w, { watch: grandchild })
  system.stop(parent)
  const order = ((await probe.take(3)) as Terminated[]).map((m) => m.ref.path.name)
  t.deepEqual(order, ['grandchild', 'child', 'parent'])
  await t.throwsAsync(system.actorSelection('/user/parent').resolveOne(), { code: 'ERR_ACTOR_NOT_FOUND' })
  await system.terminate()
})

test('ctx.stop() without argument stops the actor after its current message; later messages are dead letters', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const deadLetters: DeadLetter[] = []
  system.events.on('deadLetter', (d) => deadLetters.push(d))
  const actor = system.actorOf((m, ctx) => {
    probe.ref.tell(m)
    if (m === 'stop') ctx.stop()
  }, 'stopper')
  const w = watcher(system, probe)
  await system.ask(w, { watch: actor })
  actor.tell('a')
  actor.tell('stop')
  actor.tell('b')
  t.deepEqual(
    (await probe.take(3)).map((m) => (m instanceof Terminated ? 'terminated' : m)),
    ['a', 'stop', 'terminated'],
  )
  actor.tell('c')
  t.deepEqual(
    deadLetters.map((d) => d.message),
    ['b', 'c'],
  )
  t.true(deadLetters.every((d) => d.recipient === actor))
  t.is(system.deadLetterCount, 2)
  await system.terminate()
})

test('a ref to a stopped actor recreated under the same name resolves to dead letters', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const first = system.actorOf((m) => {
    probe.ref.tell(['first', m])
  }, 'worker')
  const w = watcher(system, probe)
  await system.ask(w, { watch: first })
  system.stop(first)
  await probe.next()
  const second = system.actorOf((m) => {
    probe.ref.tell(['second', m])
  }, 'worker')
  t.not(second.path.uid, first.path.uid)
  t.is(second.path.toString(), first.path.toString())
  const oldRef = system.resolveActorRef(first.path.toSerializationFormat())
  const newRef = system.resolveActorRef(second.path.toSerializationFormat())
  const anyRef = system.resolveActorRef(first.path.toString()) // no uid: whichever lives there now
  t.is(newRef, second)
  t.is(anyRef, second)
  t.not(oldRef, second)
  oldRef.tell('to old')
  first.tell('to old via the old ref')
  anyRef.tell('hello')
  t.deepEqual(await probe.next(), ['second', 'hello'])
  t.is(system.deadLetterCount, 2)
  await system.terminate()
})

test('a behavior that throws stops its actor, tells its watchers and publishes actorFailed', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const failures: ActorFailedEvent[] = []
  system.events.on('actorFailed', (e) => failures.push(e))
  const boom = new Error('boom')
  const fragile = system.actorOf((m) => {
    if (m === 'fail') throw boom
  }, 'fragile')
  const w = watcher(system, probe)
  await system.ask(w, { watch: fragile })
  fragile.tell('fail')
  fragile.tell('after')
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, fragile)
  t.is(failures.length, 1)
  t.is(failures[0]?.error, boom)
  t.is(failures[0]?.ref, fragile)
  t.is(failures[0]?.message, 'fail')
  t.is(system.deadLetterCount, 1)
  await system.terminate()
})

test('an async behavior that rejects stops its actor and its children', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const failed = new Promise<ActorFailedEvent>((resolve) => system.events.once('actorFailed', resolve))
  const fragile = system.actorOf(async (m, ctx) => {
    if (m === 'child') ctx.sender?.tell(ctx.actorOf(() => {}, 'kid'))
    if (m === 'fail') {
      await Promise.resolve()
      throw new Error('async boom')
    }
  }, 'fragile')
  const kid = await system.ask<ActorRef>(fragile, 'child')
  const w = watcher(system, probe)
  await system.ask(w, { watch: fragile })
  await system.ask(w, { watch: kid })
  fragile.tell('fail')
  t.is(((await failed).error as Error).message, 'async boom')
  t.deepEqual(
    ((await probe.take(2)) as Terminated[]).map((m) => m.ref.path.name),
    ['kid', 'fragile'],
  )
  await system.terminate()
})

test('events are published on diagnostics channels only when subscribed', async (t) => {
  const system = await ActorSystem.create('A')
  const seen: unknown[] = []
  const onMessage = (message: unknown): void => {
    seen.push(message)
  }
  t.false(system.events.wants('deadLetter'))
  subscribe('helios:deadLetter', onMessage)
  try {
    t.true(system.events.wants('deadLetter'))
    system.deadLetters.tell('lost')
    t.is(seen.length, 1)
    const published = seen[0] as { system: { toString(): string }; event: DeadLetter }
    t.is(published.system.toString(), 'helios://A')
    t.true(published.event instanceof DeadLetter)
    t.is(published.event.message, 'lost')
  } finally {
    unsubscribe('helios:deadLetter', onMessage)
  }
  t.false(system.events.wants('deadLetter'))
  t.is(system.deadLetterCount, 1)
  await system.terminate()
})

test('a listener that throws does not disturb the system; the error is logged', async (t) => {
  const errors: string[] = []
  const system = await ActorSystem.create('A', {
    logger: { level: 'error', sink: { info: () => {}, warn: () => {}, error: (m) => errors.push(m) } },
  })
  system.events.on('deadLetter', () => {
    throw new Error('bad listener')
  })
  const later: unknown[] = []
  system.events.on('deadLetter', (d) => later.push(d.message))
  system.deadLetters.tell('x')
  t.deepEqual(later, ['x'])
  t.is(errors.length, 1)
  t.regex(errors[0] as string, /^\[helios:\/\/A\] a 'deadLetter' listener threw: Error: bad listener$/)
  await system.terminate()
})

test('a Terminated forwarded by another actor is an ordinary message for a non-watcher', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  const target = system.actorOf(() => {}, 'target')
  // The watcher forwards its Terminated to the probe, which never watched anything.
  const w = watcher(system, probe)
  await system.ask(w, { watch: target })
  system.stop(target)
  t.true((await probe.next()) instanceof Terminated)
  await system.terminate()
})

test('a watcher with a full bounded mailbox still gets its Terminated', async (t) => {
  const system = await ActorSystem.create('A')
  const target = system.actorOf(() => {}, 'target')
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let watching: () => void = () => {}
  const watched = new Promise<void>((resolve) => {
    watching = resolve
  })
  let w: ActorRef | undefined
  const got = new Promise<Terminated>((resolve) => {
    w = system.actorOf(
      async (m, ctx) => {
        if (m === 'watch') {
          ctx.watch(target)
          watching()
          await gate
        }
        if (m instanceof Terminated) resolve(m)
      },
      'w',
      { mailboxCapacity: 1 },
    )
    w.tell('watch')
  })
  await watched
  w?.tell('fill')
  w?.tell('overflow')
  t.is(system.deadLetterCount, 1)
  system.stop(target)
  await new Promise<void>((resolve) => setImmediate(resolve))
  release()
  t.is((await got).ref, target)
  await system.terminate()
})

test('stopping an actor whose async behavior is pending takes effect at once and ignores the outcome', async (t) => {
  const system = await ActorSystem.create('A')
  const probe = new TestProbe(system)
  let finishHandling: () => void = () => {}
  const started = new Promise<void>((resolve) => {
    system
      .actorOf(async (m) => {
        if (m === 'slow') {
          resolve()
          await new Promise<void>((r) => {
            finishHandling = r
          })
          throw new Error('ignored: the actor was already stopped')
        }
      }, 'slow')
      .tell('slow')
  })
  await started
  const slow = system.resolveActorRef('helios://A/user/slow')
  const w = watcher(system, probe)
  await system.ask(w, { watch: slow })
  const failures: unknown[] = []
  system.events.on('actorFailed', (e) => failures.push(e))
  system.stop(slow)
  t.true((await probe.next()) instanceof Terminated)
  finishHandling()
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.deepEqual(failures, [])
  await system.terminate()
})
