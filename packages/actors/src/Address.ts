import { isIPv6 } from 'node:net'
import { InvalidAddressError } from './errors.js'

/** The protocols an {@link Address} may carry: `'helios'` is local-only, the others are remote transports. */
export const AddressProtocols = ['helios', 'helios.tcp', 'helios.tls', 'helios.udp', 'helios.dtls'] as const

/** One of {@link AddressProtocols}. */
export type AddressProtocol = (typeof AddressProtocols)[number]

const SYSTEM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/

/**
 * Where an actor system lives: `helios.tcp://system@host:port` for a remote-capable system,
 * `helios://system` for a local-only one. Immutable; compare with {@link Address.equals}.
 *
 * @example
 * Address.parse('helios.tcp://A@127.0.0.1:2552').port // 2552
 * new Address('helios.udp', 'B', '::1', 9000).toString() // 'helios.udp://B@[::1]:9000'
 */
export class Address {
  /** The transport protocol, `'helios'` when local-only. */
  readonly protocol: AddressProtocol
  /** The actor system's name. */
  readonly system: string
  /** Host name or IP (IPv6 without brackets); undefined for a local address. */
  readonly host: string | undefined
  /** TCP/UDP port; undefined for a local address. */
  readonly port: number | undefined
  readonly #string: string

  /**
   * @throws {InvalidAddressError} when the system name, host or port is malformed, or when a remote
   * protocol lacks host and port (or the local protocol has them).
   */
  constructor(protocol: AddressProtocol, system: string, host?: string, port?: number) {
    const input = `${protocol}://${system}${host === undefined ? '' : `@${host}:${port}`}`
    if (!(AddressProtocols as readonly string[]).includes(protocol)) throw new InvalidAddressError(input, `unknown protocol ${protocol}`)
    if (!SYSTEM_NAME.test(system)) throw new InvalidAddressError(input, 'system name must match [A-Za-z0-9][A-Za-z0-9_-]*')
    if (protocol === 'helios') {
      if (host !== undefined || port !== undefined) throw new InvalidAddressError(input, 'a local address has no host or port')
    } else {
      if (host === undefined || port === undefined) throw new InvalidAddressError(input, `${protocol} needs host and port`)
      if (!(isIPv6(host) || HOST_NAME.test(host))) throw new InvalidAddressError(input, 'malformed host')
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidAddressError(input, 'port must be an integer in 0..65535')
    }
    this.protocol = protocol
    this.system = system
    this.host = host
    this.port = port
    this.#string =
      host === undefined ? `${protocol}://${system}` : `${protocol}://${system}@${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  /** A local-only address `helios://system`. @throws {InvalidAddressError} on a malformed name. */
  static local(system: string): Address {
    return new Address('helios', system)
  }

  /**
   * Parses `protocol://system` or `protocol://system@host:port` (IPv6 hosts in brackets).
   * @throws {InvalidAddressError} when the string is malformed.
   */
  static parse(input: string): Address {
    const scheme = input.indexOf('://')
    if (scheme < 0) throw new InvalidAddressError(input, 'missing "://"')
    const protocol = input.slice(0, scheme)
    if (!(AddressProtocols as readonly string[]).includes(protocol))
      throw new InvalidAddressError(input, `unknown protocol ${JSON.stringify(protocol)}`)
    const authority = input.slice(scheme + 3)
    const at = authority.indexOf('@')
    if (at < 0) return new Address(protocol as AddressProtocol, authority)
    const system = authority.slice(0, at)
    const hostPort = authority.slice(at + 1)
    let host: string
    let portText: string
    if (hostPort.startsWith('[')) {
      const close = hostPort.indexOf(']')
      if (close < 0 || hostPort[close + 1] !== ':') throw new InvalidAddressError(input, 'malformed [ipv6]:port')
      host = hostPort.slice(1, close)
      if (!isIPv6(host)) throw new InvalidAddressError(input, 'malformed IPv6 host')
      portText = hostPort.slice(close + 2)
    } else {
      const colon = hostPort.lastIndexOf(':')
      if (colon < 0) throw new InvalidAddressError(input, 'missing port')
      host = hostPort.slice(0, colon)
      if (host.includes(':')) throw new InvalidAddressError(input, 'IPv6 hosts must be in brackets')
      portText = hostPort.slice(colon + 1)
    }
    if (!/^(0|[1-9][0-9]{0,4})$/.test(portText)) throw new InvalidAddressError(input, 'malformed port')
    return new Address(protocol as AddressProtocol, system, host, Number(portText))
  }

  /** True for `helios://system` (no host and port). */
  get isLocal(): boolean {
    return this.host === undefined
  }

  /** Same protocol, system, host and port. */
  equals(other: Address): boolean {
    return this === other || this.#string === other.#string
  }

  /** The canonical string, e.g. `helios.tcp://A@127.0.0.1:2552`. */
  toString(): string {
    return this.#string
  }
}
