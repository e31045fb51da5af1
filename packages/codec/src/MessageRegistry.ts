import { DuplicateRegistrationError } from './errors.js'
import type { Registration } from './internal/Registration.js'
import { RegistrationKind } from './internal/Registration.js'

/** A class whose instances can be registered (any constructor; it is never called on decode). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: any constructor signature (unknown[] would reject classes with typed parameters)
export type MessageClass<T extends object = object> = abstract new (...args: any[]) => T

/**
 * How instances of a registered class become wire data.
 *
 * - default: the instance's own enumerable properties, as a msgpack map; decoding creates an
 *   object with the class's prototype (the constructor is not called) and assigns them.
 * - `fields`: the listed properties in that order, as a msgpack array (smaller and faster for
 *   small, fixed-shape messages, like a msgpackr record whose shape both sides know).
 * - `toWire` / `fromWire`: any value you choose, e.g. for private state or invariants the
 *   constructor must check. The class's own static `toWire` / `fromWire` are used when present.
 */
export interface RegisterOptions<T extends object> {
  /** Property names, written positionally. */
  readonly fields?: readonly string[]
  /** Turns an instance into a wire value (anything the codec can carry). */
  readonly toWire?: (instance: T) => unknown
  /** Rebuilds an instance from what `toWire` produced. */
  readonly fromWire?: (data: unknown) => T
}

interface WireStatics {
  toWire?: unknown
  fromWire?: unknown
}

/**
 * The registry of user message classes: each class is known by a manifest string that both
 * nodes agree on, so its instances arrive as instances (at any depth of a message).
 *
 * A received manifest that is not registered fails that one message with
 * `UnknownManifestError` (`ERR_UNKNOWN_MANIFEST`).
 *
 * @example
 * class Greet { constructor(readonly who: string) {} }
 * const registry = new MessageRegistry()
 *   .register(Greet, 'demo.Greet')
 *   .register(Point, 'demo.Point', { fields: ['x', 'y'] });
 */
export class MessageRegistry {
  readonly #byPrototype = new Map<object, Registration>()
  readonly #byManifest = new Map<string, Registration>()
  readonly #parent: MessageRegistry | undefined

  /**
   * @param parent a registry whose registrations this one also knows (looked up after its own,
   *   also those made later): a library adds its own classes without changing the application's
   *   registry.
   */
  constructor(parent?: MessageRegistry) {
    this.#parent = parent
  }

  /**
   * Registers `ctor` under `manifest`.
   *
   * @throws {DuplicateRegistrationError} the class or the manifest is already registered.
   */
  register<T extends object>(ctor: MessageClass<T>, manifest: string, options: RegisterOptions<T> = {}): this {
    const proto = ctor.prototype as object
    if (this.byPrototype(proto) !== undefined) throw new DuplicateRegistrationError(`class ${ctor.name} is already registered`)
    if (this.byManifest(manifest) !== undefined)
      throw new DuplicateRegistrationError(`manifest ${JSON.stringify(manifest)} is already registered`)
    if (manifest.length === 0) throw new DuplicateRegistrationError('a manifest must not be empty')
    const statics = ctor as unknown as WireStatics
    const toWire = options.toWire ?? (typeof statics.toWire === 'function' ? (statics.toWire.bind(ctor) as (v: T) => unknown) : undefined)
    const fromWire =
      options.fromWire ?? (typeof statics.fromWire === 'function' ? (statics.fromWire.bind(ctor) as (d: unknown) => T) : undefined)
    let registration: Registration
    if (toWire !== undefined || fromWire !== undefined) {
      if (toWire === undefined || fromWire === undefined) {
        throw new DuplicateRegistrationError(`class ${ctor.name}: toWire and fromWire go together`)
      }
      registration = { manifest, proto, kind: RegistrationKind.custom, fields: [], toWire: toWire as (v: object) => unknown, fromWire }
    } else if (options.fields !== undefined) {
      registration = { manifest, proto, kind: RegistrationKind.fields, fields: [...options.fields], toWire: undefined, fromWire: undefined }
    } else {
      registration = { manifest, proto, kind: RegistrationKind.properties, fields: [], toWire: undefined, fromWire: undefined }
    }
    this.#byPrototype.set(proto, registration)
    this.#byManifest.set(manifest, registration)
    return this
  }

  /** The manifest `ctor` is registered under, if any. */
  manifestOf(ctor: MessageClass): string | undefined {
    return this.byPrototype(ctor.prototype as object)?.manifest
  }

  /** @internal */
  byPrototype(proto: object): Registration | undefined {
    return this.#byPrototype.get(proto) ?? this.#parent?.byPrototype(proto)
  }

  /** @internal */
  byManifest(manifest: string): Registration | undefined {
    return this.#byManifest.get(manifest) ?? this.#parent?.byManifest(manifest)
  }
}
