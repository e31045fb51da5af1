import { Address } from './Address.js'
import { InvalidActorPathError } from './errors.js'

const ELEMENT = /^[A-Za-z0-9_\-~$+=:@!*',;&.]+$/
const UID = /^[1-9][0-9]{0,15}$/

/**
 * True when `name` may be one element of an actor path: non-empty, URI-safe characters only, no `/`,
 * `#`, `%`, and not `.` or `..`.
 */
export function isValidPathElement(name: string): boolean {
  return ELEMENT.test(name) && name !== '.' && name !== '..'
}

/**
 * The location of an actor: an {@link Address}, the names from the root down (`['user', 'a', 'b']`),
 * and optionally the uid of one incarnation of the actor.
 *
 * `toString()` omits the uid (`helios.tcp://A@host:1/user/a`); {@link ActorPath.toSerializationFormat}
 * includes it (`…/user/a#123`). Two refs with the same path but different uids are different
 * incarnations: a message addressed to the old uid goes to dead letters.
 *
 * Uids are random integers in `1 .. 2^32-1` drawn per incarnation (like Akka's 32-bit uid); the
 * parser accepts any positive safe integer so that uids from other implementations survive.
 *
 * @example
 * const p = ActorPath.parse('helios.tcp://A@127.0.0.1:2552/user/echo#42')
 * p.name // 'echo';  p.uid // 42;  p.toString() // 'helios.tcp://A@127.0.0.1:2552/user/echo'
 */
export class ActorPath {
  /** The address of the system the actor lives in. */
  readonly address: Address
  /** Path elements from the root, e.g. `['user', 'echo']`; empty for the root. */
  readonly elements: readonly string[]
  /** The incarnation uid, undefined when unknown (e.g. a path typed by a user). */
  readonly uid: number | undefined
  #string: string | undefined

  /**
   * @throws {InvalidActorPathError} when an element or the uid is malformed.
   */
  constructor(address: Address, elements: readonly string[], uid?: number) {
    for (const e of elements) {
      if (!isValidPathElement(e))
        throw new InvalidActorPathError(`${address}/${elements.join('/')}`, `malformed element ${JSON.stringify(e)}`)
    }
    if (uid !== undefined && !(Number.isSafeInteger(uid) && uid > 0)) {
      throw new InvalidActorPathError(`${address}/${elements.join('/')}#${uid}`, 'uid must be a positive safe integer')
    }
    this.address = address
    this.elements = Object.freeze(elements.slice())
    this.uid = uid
  }

  /**
   * Parses `protocol://system[@host:port][/e1/e2…][#uid]`.
   * @throws {InvalidActorPathError} when the string is malformed (the address error is its `cause`).
   */
  static parse(input: string): ActorPath {
    const scheme = input.indexOf('://')
    if (scheme < 0) throw new InvalidActorPathError(input, 'missing "://"')
    const hash = input.indexOf('#', scheme)
    const body = hash < 0 ? input : input.slice(0, hash)
    let uid: number | undefined
    if (hash >= 0) {
      const uidText = input.slice(hash + 1)
      if (!UID.test(uidText) || !Number.isSafeInteger(Number(uidText))) throw new InvalidActorPathError(input, 'malformed uid')
      uid = Number(uidText)
    }
    const slash = body.indexOf('/', scheme + 3)
    const addressText = slash < 0 ? body : body.slice(0, slash)
    let address: Address
    try {
      address = Address.parse(addressText)
    } catch (cause) {
      throw new InvalidActorPathError(input, 'malformed address', { cause })
    }
    const rest = slash < 0 ? '' : body.slice(slash)
    let elements: string[] = []
    if (rest.length > 1) {
      elements = rest.slice(1).split('/')
      for (const e of elements) {
        if (!isValidPathElement(e)) throw new InvalidActorPathError(input, `malformed element ${JSON.stringify(e)}`)
      }
    }
    if (uid !== undefined && elements.length === 0) throw new InvalidActorPathError(input, 'the root path has no uid')
    return new ActorPath(address, elements, uid)
  }

  /** The root path of an address (`helios://A/`). */
  static root(address: Address): ActorPath {
    return new ActorPath(address, [])
  }

  /** The last element (`''` for the root). */
  get name(): string {
    return this.elements[this.elements.length - 1] ?? ''
  }

  /** The path of the parent (without uid); the root is its own parent. */
  get parent(): ActorPath {
    return this.elements.length === 0 ? this : new ActorPath(this.address, this.elements.slice(0, -1))
  }

  /** The path of a child named `name`, without uid. @throws {InvalidActorPathError} on a malformed name. */
  child(name: string): ActorPath {
    return new ActorPath(this.address, [...this.elements, name])
  }

  /** The same path with another uid (or none). */
  withUid(uid: number | undefined): ActorPath {
    return uid === this.uid ? this : new ActorPath(this.address, this.elements, uid)
  }

  /** The same elements and uid under another address (used when a local path is made global). */
  withAddress(address: Address): ActorPath {
    return address.equals(this.address) ? this : new ActorPath(address, this.elements, this.uid)
  }

  /** Same address, elements and uid. Use `toString()` equality to ignore the uid. */
  equals(other: ActorPath): boolean {
    return this === other || (this.uid === other.uid && this.toString() === other.toString())
  }

  /** The path without uid: `helios.tcp://A@127.0.0.1:2552/user/echo` (the root ends with `/`). */
  toString(): string {
    return (this.#string ??= `${this.address.toString()}/${this.elements.join('/')}`)
  }

  /** The path with `#uid` when the uid is known: what goes on the wire. */
  toSerializationFormat(): string {
    return this.uid === undefined ? this.toString() : `${this.toString()}#${this.uid}`
  }
}
