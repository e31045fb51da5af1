import test from 'ava'
import { type ActorPath, ActorSystem, Address, Terminated, type ActorRef } from '../src/index.js'
import { createActorSystem } from '../src/internal/createActorSystem.js'
import { InternalActorRef } from '../src/internal/InternalActorRef.js'
import type { RemoteProvider, SystemInternals } from '../src/internal/RemoteProvider.js'
import type { SystemMessage } from '../src/internal/SystemMessage.js'
import { TestProbe } from './helpers/TestProbe.js'

/** A remote ref that records what would go over the wire. */
class FakeRemoteRef extends InternalActorRef {
  readonly isLocal = false
  constructor(
    readonly path: ActorPath,
    readonly wire: unknown[],
  ) {
    super()
  }
  tell(message: unknown, sender?: ActorRef): void {
    this.wire.push({ to: this.path.toSerializationFormat(), message, sender: sender?.path.toSerializationFormat() })
  }
  sendSystemMessage(message: SystemMessage): void {
    this.wire.push({ system: message.kind, to: this.path.toSerializationFormat() })
  }
}

async function remoteSystem() {
  const wire: unknown[] = []
  let internals: SystemInternals | undefined
  const address = new Address('helios.tcp', 'A', '127.0.0.1', 2552)
  const system = await createActorSystem('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } }, async (settings, i) => {
    internals = i
    const provider: RemoteProvider = {
      address: new Address('helios.tcp', 'A', settings.host, 2552),
      resolveRemoteRef: (path) => new FakeRemoteRef(path, wire),
      resolveSelection: async (path) => new FakeRemoteRef(path.withUid(7), wire),
      shutdown: async () => {
        wire.push('shutdown')
      },
      associations: () => [],
    }
    return provider
  })
  return { system, wire, internals: internals as SystemInternals, address }
}

test('the system takes its address from the provider and builds global paths', async (t) => {
  const { system, address } = await remoteSystem()
  t.true(system.address.equals(address))
  const echo = system.actorOf(() => {}, 'echo')
  t.is(echo.path.toString(), 'helios.tcp://A@127.0.0.1:2552/user/echo')
  await system.terminate()
})

test('resolveActorRef asks the provider for paths on other nodes and tells go to the remote ref', async (t) => {
  const { system, wire } = await remoteSystem()
  const remote = system.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/echo#9')
  t.true(remote instanceof FakeRemoteRef)
  const local = system.actorOf(() => {}, 'me')
  remote.tell('hi', local)
  t.deepEqual(wire, [{ to: 'helios.tcp://B@127.0.0.1:5000/user/echo#9', message: 'hi', sender: local.path.toSerializationFormat() }])
  const selected = await system.actorSelection('helios.tcp://B@127.0.0.1:5000/user/echo').resolveOne({ timeoutMs: 100 })
  t.is(selected.path.uid, 7)
  await system.terminate()
  t.is(wire.at(-1), 'shutdown')
})

test('local paths in both the global and the local form resolve to the local actor', async (t) => {
  const { system } = await remoteSystem()
  const echo = system.actorOf(() => {}, 'echo')
  t.is(system.resolveActorRef('helios.tcp://A@127.0.0.1:2552/user/echo'), echo)
  t.is(system.resolveActorRef('helios://A/user/echo'), echo)
  await system.terminate()
})

test('deliver hands an inbound message to a local actor with its remote sender', async (t) => {
  const { system, internals, wire } = await remoteSystem()
  const echo = system.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'echo')
  const sender = internals.resolveActorRef('helios.tcp://B@127.0.0.1:5000/temp/$0#5')
  internals.deliver(`${echo.path.toSerializationFormat()}`, 'ping', sender)
  const replied = new Promise<void>((resolve) => {
    const check = (): void => {
      if (wire.length > 0) resolve()
      else setImmediate(check)
    }
    check()
  })
  await replied
  t.deepEqual(wire[0], { to: 'helios.tcp://B@127.0.0.1:5000/temp/$0#5', message: 'ping', sender: echo.path.toSerializationFormat() })
  internals.deliver('helios.tcp://A@127.0.0.1:2552/user/echo#1', 'wrong incarnation', sender)
  internals.deliver('helios.tcp://A@127.0.0.1:2552/user/nobody', 'nobody', sender)
  t.is(system.deadLetterCount, 2)
  await system.terminate()
})

test('watching a remote ref sends a watch system message, and addressTerminated delivers Terminated', async (t) => {
  const { system, internals, wire } = await remoteSystem()
  const probe = new TestProbe(system)
  const remote = system.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/echo')
  const other = system.resolveActorRef('helios.tcp://C@127.0.0.1:5001/user/echo')
  const w = system.actorOf((m, ctx) => {
    if (m instanceof Terminated) probe.ref.tell(m)
    else {
      ctx.watch(remote)
      ctx.watch(other)
      ctx.sender?.tell('ok')
    }
  })
  await system.ask(w, 'watch')
  t.deepEqual(wire, [
    { system: 'watch', to: 'helios.tcp://B@127.0.0.1:5000/user/echo' },
    { system: 'watch', to: 'helios.tcp://C@127.0.0.1:5001/user/echo' },
  ])
  internals.addressTerminated(Address.parse('helios.tcp://B@127.0.0.1:5000'))
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, remote)
  t.true(terminated.addressTerminated)
  t.false(terminated.existenceConfirmed)
  await system.terminate()
})

test('a death-watch notification from a remote node (with uid) reaches a watcher that watched a path without uid', async (t) => {
  const { system, internals } = await remoteSystem()
  const probe = new TestProbe(system)
  const remote = system.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/echo')
  const w = system.actorOf((m, ctx) => {
    if (m instanceof Terminated) probe.ref.tell(m)
    else {
      ctx.watch(remote)
      ctx.sender?.tell('ok')
    }
  })
  await system.ask(w, 'watch')
  const incoming = internals.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/echo#77') as InternalActorRef
  ;(internals.resolveActorRef(w.path) as InternalActorRef).sendSystemMessage({
    kind: 'deathWatchNotification',
    ref: incoming,
    existenceConfirmed: true,
    addressTerminated: false,
  })
  const terminated = (await probe.next()) as Terminated
  t.is(terminated.ref, remote)
  await system.terminate()
})

test('a remote watcher of a local actor is sent a death-watch notification when it stops', async (t) => {
  const { system, internals, wire } = await remoteSystem()
  const local = system.actorOf(() => {}, 'watched')
  const remoteWatcher = internals.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/w#3')
  const watchee = internals.resolveActorRef(local.path.toSerializationFormat())
  watchee.sendSystemMessage({ kind: 'watch', watchee, watcher: remoteWatcher })
  const stopped = new Promise<void>((resolve) => {
    system
      .actorOf((m, ctx) => {
        if (m instanceof Terminated) resolve()
        else ctx.watch(local)
      })
      .tell('go')
  })
  system.stop(local)
  await stopped
  t.deepEqual(wire, [{ system: 'deathWatchNotification', to: 'helios.tcp://B@127.0.0.1:5000/user/w#3' }])
  await system.terminate()
})

test('a local-only system resolves remote paths to dead letters', async (t) => {
  const system = await ActorSystem.create('L')
  const remote = system.resolveActorRef('helios.tcp://B@127.0.0.1:5000/user/echo')
  remote.tell('lost')
  t.is(system.deadLetterCount, 1)
  await system.terminate()
})
