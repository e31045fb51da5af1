import fc from 'fast-check'
import { Codec, MessageRegistry } from '../src/index.js'
import type { AssociationCodec, RefCodec } from '../src/index.js'

/** A stand-in for @helios/actors' ActorRef. */
export class TestRef {
  constructor(readonly path: string) {}
}

export class Greet {
  constructor(
    readonly who: string,
    readonly times: number,
  ) {}
}

export class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

export class Money {
  readonly #cents: bigint
  constructor(cents: bigint) {
    this.#cents = cents
  }
  get cents(): bigint {
    return this.#cents
  }
  static toWire(m: Money): unknown {
    return m.#cents
  }
  static fromWire(data: unknown): Money {
    if (typeof data !== 'bigint') throw new TypeError('cents must be a bigint')
    return new Money(data)
  }
}

export function makeRegistry(): MessageRegistry {
  return new MessageRegistry()
    .register(Greet, 'test.Greet')
    .register(Point, 'test.Point', { fields: ['x', 'y'] })
    .register(Money, 'test.Money')
}

export const refCodec: RefCodec = {
  isRef: (v) => v instanceof TestRef,
  toPath: (ref) => (ref as TestRef).path,
  fromPath: (path) => new TestRef(path),
}

export const RECIPIENT = 'helios.tcp://sys@127.0.0.1:2552/user/ponger#1234'
export const SENDER = 'helios.tcp://sys@127.0.0.1:2553/user/pinger#5678'

export interface Pair {
  readonly a: Codec
  readonly b: Codec
  readonly ab: AssociationCodec
  readonly ba: AssociationCodec
}

/** Two nodes (uid 1 and 2) and their association states, with shared options. */
export function makePair(options: Partial<ConstructorParameters<typeof Codec>[0] & object> = {}): Pair {
  const registry = makeRegistry()
  const a = new Codec({ registry, refCodec, localUid: 1n, ...options })
  const b = new Codec({ registry, refCodec, localUid: 2n, ...options })
  return { a, b, ab: a.createAssociation({ remoteUid: 2n }), ba: b.createAssociation({ remoteUid: 1n }) }
}

/** Exchanges control frames between the two sides until none is left. */
export function settle(pair: Pair): void {
  for (let i = 0; i < 10; i++) {
    const fromA = pair.ab.takeControlFrames()
    const fromB = pair.ba.takeControlFrames()
    if (fromA.length === 0 && fromB.length === 0) return
    for (const f of fromA) pair.ba.decode(f)
    for (const f of fromB) pair.ab.decode(f)
  }
}

const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__')
const pathArb = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `helios.tcp://s@h:1/user/${s}`)

/** Arbitrary message values the codec promises to round-trip. */
export const messageValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.maxSafeInteger(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
    fc.date(),
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    pathArb.map((p) => new TestRef(p)),
    fc.tuple(fc.string(), fc.integer()).map(([w, t]) => new Greet(w, t)),
    fc.tuple(fc.double({ noNaN: true }), fc.integer()).map(([x, y]) => new Point(Object.is(x, -0) ? 0 : x, y)),
    fc.bigInt().map((c) => new Money(c)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
  ),
})).value
