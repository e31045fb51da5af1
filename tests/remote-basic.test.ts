import test from 'ava'
import { MessageRegistry } from '@helios/codec'
import { ActorNotFound, ActorSystem, type ActorRef, type RemoteOptions } from '@helios/actors'
import { trustedTls } from './support/certs.js'

class Greeting {
  constructor(
    readonly who: string,
    readonly replyTo: ActorRef,
  ) {}
  hello(): string {
    return `hello ${this.who}`
  }
}

function registry(): MessageRegistry {
  return new MessageRegistry().register(Greeting, 'test.Greeting')
}

function remote(transport: 'tcp' | 'tls' | 'udp'): RemoteOptions {
  return { transport, host: '127.0.0.1', port: 0, registry: registry(), ...(transport === 'tls' ? { tls: trustedTls() } : {}) }
}

async function pair(transport: 'tcp' | 'tls' | 'udp'): Promise<[ActorSystem, ActorSystem]> {
  const a = await ActorSystem.create('A', { remote: remote(transport) })
  const b = await ActorSystem.create('B', { remote: remote(transport) })
  return [a, b]
}

for (const transport of ['tcp', 'tls', 'udp'] as const) {
  test(`${transport}: tell, ask and actorSelection reach an actor on another node`, async (t) => {
    const [a, b] = await pair(transport)
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    t.regex(a.address.toString(), new RegExp(`^helios\\.${transport}://A@127\\.0\\.0\\.1:\\d+$`))
    const echo = b.actorOf((m, ctx) => {
      ctx.sender?.tell(m, ctx.self)
    }, 'echo')
    t.is(echo.path.toString(), `${b.address.toString()}/user/echo`)
    const ref = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
    t.true(ref.equals(echo) || ref.path.toSerializationFormat() === echo.path.toSerializationFormat())
    const value = {
      text: 'hi',
      n: 42,
      big: 2n ** 70n,
      bytes: new Uint8Array([1, 2, 3]),
      when: new Date(1000),
      set: new Set([1]),
      map: new Map([['k', [1, 2]]]),
    }
    t.deepEqual(await a.ask(ref, value, { timeoutMs: 5000 }), value)

    const got = new Promise<unknown>((resolve) => {
      b.actorOf((m) => resolve(m), 'inbox')
    })
    a.resolveActorRef(`${b.address.toString()}/user/inbox`).tell('told')
    t.is(await got, 'told')
  })

  test(`${transport}: refs inside messages arrive as working refs and registered classes as instances`, async (t) => {
    const [a, b] = await pair(transport)
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    b.actorOf((m) => {
      const g = m as Greeting
      g.replyTo.tell(g instanceof Greeting ? g.hello() : 'not an instance')
    }, 'greeter')
    const replies = new Promise<unknown>((resolve) => {
      a.actorOf((m) => resolve(m), 'replies')
    })
    const replyTo = a.resolveActorRef(`${a.address.toString()}/user/replies`)
    const greeter = await a.actorSelection(`${b.address.toString()}/user/greeter`).resolveOne({ timeoutMs: 5000 })
    greeter.tell(new Greeting('bob', replyTo))
    t.is(await replies, 'hello bob')

    b.actorOf((m) => {
      ;((m as { deep: { refs: ActorRef[] } }).deep.refs[1] as ActorRef).tell('via nested ref')
    }, 'nested')
    const sink = new Promise<unknown>((resolve) => {
      a.actorOf((m) => resolve(m), 'sink')
    })
    const nestedRef = await a.actorSelection(`${b.address.toString()}/user/nested`).resolveOne({ timeoutMs: 5000 })
    nestedRef.tell({ deep: { refs: [replyTo, a.resolveActorRef(`${a.address.toString()}/user/sink`)] } })
    t.is(await sink, 'via nested ref')
  })

  test(`${transport}: actorSelection of a path with no actor rejects with ActorNotFound`, async (t) => {
    const [a, b] = await pair(transport)
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    await t.throwsAsync(a.actorSelection(`${b.address.toString()}/user/nobody`).resolveOne({ timeoutMs: 3000 }), {
      instanceOf: ActorNotFound,
    })
  })
}

test('tcp: a message above the max message size is dropped at the sender with a dropped event', async (t) => {
  const a = await ActorSystem.create('A', { remote: { ...remote('tcp'), maxMessageSize: 1024 * 1024 } })
  const b = await ActorSystem.create('B', { remote: { ...remote('tcp'), maxMessageSize: 1024 * 1024 } })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  const received: number[] = []
  b.actorOf((m, ctx) => {
    received.push((m as Uint8Array).byteLength)
    ctx.sender?.tell('ok')
  }, 'big')
  const ref = await a.actorSelection(`${b.address.toString()}/user/big`).resolveOne({ timeoutMs: 5000 })
  const dropped = new Promise<{ reason: string }>((resolve) => a.events.once('dropped', resolve))
  ref.tell(new Uint8Array(2 * 1024 * 1024))
  t.regex((await dropped).reason, /too large|exceeds/i)
  // A fragmented message below the limit still arrives whole.
  t.is(await a.ask(ref, new Uint8Array(700 * 1024), { timeoutMs: 5000 }), 'ok')
  t.deepEqual(received, [700 * 1024])
})
