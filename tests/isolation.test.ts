/*
 * Importing Helios changes nothing for the application's other code, and nothing the application
 * does with msgpackr changes Helios. The Helios packages are imported dynamically, in the middle of
 * this file, so that the application's state can be seen before and after: nothing else in this
 * file imports them (types only).
 */
import test from 'ava'
import { Packr, Unpackr, addExtension, unpack } from 'msgpackr'
import { EventEmitter } from 'node:events'
import type * as Actors from '@helios/actors'
import type * as Codec from '@helios/codec'

/** Every extension type code Helios uses on the wire (docs/PROTOCOL.md, "Values"). */
const HELIOS_TYPES = [0x00, 0x42, 0x43, 0x4d, 0x52, 0x73, 0x74, 0xff]

/** The application's own class, which its extensions turn values into. */
class AppValue {
  constructor(
    readonly type: number,
    readonly data: unknown,
  ) {}
}

let generation = 'first'
/** Registers an application extension on every Helios type code, and on the classes Helios sends. */
function registerAppExtensions(tag: string): void {
  generation = tag
  for (const type of HELIOS_TYPES) {
    class Marker {
      constructor(readonly data: unknown) {}
    }
    addExtension({
      Class: Marker,
      type: type === 0xff ? -1 : type,
      write: (m: Marker) => m.data,
      read: (data: unknown) => new AppValue(type, [generation, data]),
    })
  }
  // the built-in classes Helios carries: msgpackr's built-in handling of them is replaced too
  for (const [Class, type] of [
    [Map, 0x60],
    [Set, 0x61],
    [Date, 0x62],
    [Uint8Array, 0x63],
    [Buffer, 0x64],
  ] as const) {
    addExtension({
      Class: Class as unknown as new () => object,
      type,
      write: () => `app-${generation}`,
      read: (data: unknown) => new AppValue(type, data),
    })
  }
}

/** What the application's msgpackr does with bytes of every Helios type code, as comparable text. */
function appBehaviour(): string[] {
  const out: string[] = []
  const packr = new Packr({ useRecords: false, moreTypes: true })
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: true })
  for (const type of HELIOS_TYPES) {
    // a tag extension (d4 <type> 00) followed by one value, as Helios writes them
    const bytes = Buffer.from([0xd4, type, 0x00, 0x92, 0x01, 0xa1, 0x78])
    for (const decode of [(b: Buffer) => unpack(b), (b: Buffer) => unpackr.unpack(b)]) {
      try {
        out.push(`${type}: ${JSON.stringify(decode(bytes), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`)
      } catch (error) {
        out.push(`${type}: throws ${(error as Error).message}`)
      }
    }
  }
  const values = [new Map([[1, 'a']]), new Set(['x']), new Date(1000), Uint8Array.of(7), Buffer.from([9]), { plain: [1, 'two'] }, 2n ** 70n]
  for (const value of values) out.push(Buffer.from(packr.pack(value)).toString('hex'))
  return out
}

/** Own property names of the global object and of the built-ins an import could patch. */
function globalsSnapshot(): string[] {
  const out = [`global: ${Reflect.ownKeys(globalThis).map(String).sort().join(',')}`]
  const builtins: Record<string, object> = {
    Object,
    Function,
    Array,
    String,
    Number,
    Boolean,
    Symbol,
    BigInt,
    Promise,
    Map,
    Set,
    WeakMap,
    Date,
    RegExp,
    Error,
    TypeError,
    JSON,
    Math,
    Reflect,
    ArrayBuffer,
    Uint8Array,
    Buffer,
    EventEmitter,
    process,
  }
  for (const [name, value] of Object.entries(builtins)) {
    out.push(`${name}: ${Reflect.ownKeys(value).map(String).sort().join(',')}`)
    const proto = (value as { prototype?: object }).prototype
    if (proto !== undefined) out.push(`${name}.prototype: ${Reflect.ownKeys(proto).map(String).sort().join(',')}`)
  }
  out.push(`Object.prototype of {}: ${Object.getPrototypeOf({}) === Object.prototype}`)
  out.push(`Error.stackTraceLimit ${Error.stackTraceLimit}, EventEmitter.defaultMaxListeners ${EventEmitter.defaultMaxListeners}`)
  out.push(`env: ${Object.keys(process.env).sort().join(',')}`)
  for (const event of ['exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'warning', 'SIGINT', 'SIGTERM']) {
    out.push(`process listeners ${event}: ${process.listenerCount(event)}`)
  }
  return out
}

let codec: typeof Codec
let actors: typeof Actors

test.serial(
  'importing @helios/transport (and ./testing), @helios/codec and @helios/actors changes no global, no prototype and no msgpackr extension',
  async (t) => {
    const pristine = appBehaviour()
    registerAppExtensions('first')
    const before = appBehaviour()
    t.notDeepEqual(before, pristine, 'the application extensions are in effect')
    const globalsBefore = globalsSnapshot()

    await import('@helios/transport')
    const testing = await import('@helios/transport/testing')
    codec = await import('@helios/codec')
    actors = await import('@helios/actors')

    t.deepEqual(appBehaviour(), before, "the application's msgpackr behaves as before the import")
    t.deepEqual(globalsSnapshot(), globalsBefore)
    // the certificate helper loads node-forge on its first certificate: that changes nothing global either
    t.regex(testing.selfSignedCertificate({ days: 1 }).cert, /^-----BEGIN CERTIFICATE-----/)
    t.deepEqual(globalsSnapshot(), globalsBefore)
  },
)

test.serial('an application extension registered after the import still round-trips unchanged, and Helios stays unaffected', (t) => {
  registerAppExtensions('second')
  const packr = new Packr({ useRecords: false, moreTypes: true })
  const decoded = packr.unpack(packr.pack([new Set(['a']), new Date(0)])) as AppValue[]
  t.deepEqual(
    decoded.map((v) => [v.type, v.data]),
    [
      [0x61, 'app-second'],
      [0x62, 'app-second'],
    ],
  )

  const registry = new codec.MessageRegistry()
  const heliosCodec = new codec.Codec({ registry, localUid: 1n })
  const message = [
    undefined,
    2n ** 70n,
    -(2n ** 90n),
    new Date(1500),
    new Map([[1, 'a']]),
    new Set(['x']),
    Uint8Array.of(7, 8),
    Buffer.from([9]),
  ]
  const frame = heliosCodec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message })
  const pdu = heliosCodec.decode(frame)
  t.deepEqual(pdu, { type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message })
})

class Greet {
  constructor(
    readonly who: string,
    readonly at: Date,
  ) {}
}

test.serial(
  'Helios traffic (Map, Set, Date, bigint, classes, refs at depth) arrives intact over tcp whatever extensions the application registered',
  async (t) => {
    const { ActorSystem, ActorRef } = actors
    const remote = (): Actors.RemoteOptions => ({
      transport: 'tcp',
      host: '127.0.0.1',
      port: 0,
      registry: new codec.MessageRegistry().register(Greet, 'test.Greet'),
    })
    const a = await ActorSystem.create('A', { remote: remote() })
    const b = await ActorSystem.create('B', { remote: remote() })
    t.teardown(async () => {
      await a.terminate()
      await b.terminate()
    })
    b.actorOf((m, ctx) => {
      ctx.sender?.tell(m, ctx.self)
    }, 'echo')
    const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
    const inbox = new Promise<unknown>((resolve) => {
      a.actorOf((m) => resolve(m), 'inbox')
    })
    const inboxRef = a.resolveActorRef(`${a.address.toString()}/user/inbox`)
    const message = {
      undef: undefined,
      small: 5n,
      big: 2n ** 100n,
      negative: -(2n ** 80n),
      when: new Date(1_700_000_000_123),
      before1970: new Date(-1_000_000_000_500),
      bytes: Uint8Array.of(1, 2, 3),
      buffer: Buffer.from('buf'),
      set: new Set(['x', 1]),
      map: new Map<unknown, unknown>([
        ['k', [1, 2]],
        [2, new Set([3])],
      ]),
      greet: new Greet('bob', new Date(2000)),
      deep: { list: [{ refs: [inboxRef] }] },
    }
    const reply = (await a.ask(echo, message, { timeoutMs: 5000 })) as typeof message
    t.deepEqual(reply, message)
    t.true(reply.greet instanceof Greet)
    t.true(reply.when instanceof Date && reply.map instanceof Map && reply.set instanceof Set)
    const ref = reply.deep.list[0]?.refs[0]
    t.true(ref instanceof ActorRef)
    ;(ref as Actors.ActorRef).tell('via the ref that crossed the wire twice')
    t.is(await inbox, 'via the ref that crossed the wire twice')
  },
)

class Secret {
  constructor(readonly text: string) {}
}
class OtherSecret {
  constructor(readonly text: string) {}
}

test.serial("two actor systems in one process with different registries do not see each other's registrations", async (t) => {
  const { ActorSystem } = actors
  const registryA = new codec.MessageRegistry().register(Secret, 'app.Secret')
  const registryB = new codec.MessageRegistry()
  const registryC = new codec.MessageRegistry().register(OtherSecret, 'app.Secret')
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, registry: registryA } })
  const b = await ActorSystem.create('B', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, registry: registryB } })
  const c = await ActorSystem.create('C', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0, registry: registryC } })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
    await c.terminate()
  })
  const received = (system: Actors.ActorSystem): Promise<unknown> =>
    new Promise((resolve) => {
      system.actorOf((m) => resolve(m), 'inbox')
    })
  const atB = received(b)
  const atC = received(c)
  const dropped = new Promise<{ reason: string }>((resolve) => b.events.once('dropped', resolve))

  const toB = await a.actorSelection(`${b.address.toString()}/user/inbox`).resolveOne({ timeoutMs: 5000 })
  const toC = await a.actorSelection(`${c.address.toString()}/user/inbox`).resolveOne({ timeoutMs: 5000 })
  toB.tell(new Secret('for b'))
  toC.tell(new Secret('for c'))

  // B never registered the manifest: the message is dropped there, not rebuilt with A's class
  t.regex((await dropped).reason, /app\.Secret/)
  t.is(registryB.manifestOf(Secret), undefined)
  // C registered another class under the same manifest: C's own registration is used
  const got = await atC
  t.true(got instanceof OtherSecret)
  t.is((got as OtherSecret).text, 'for c')
  t.is(registryA.manifestOf(OtherSecret), undefined)
  toB.tell('plain still arrives')
  t.is(await atB, 'plain still arrives')
  // The system's own messages (Identify, ActorIdentity) were not added to the application's registries.
  t.false(
    [registryA, registryB, registryC].some((r) => ['helios.Identify', 'helios.ActorIdentity'].some((m) => r.byManifest(m) !== undefined)),
  )
})
