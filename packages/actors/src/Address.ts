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
 * The host is kept in one canonical form, so that one endpoint has one address: IPv4 in dotted
 * decimal (every form the system's resolver reads as IPv4 is one: `127.1`, `127.000.000.001`,
 * `0x7f.0.0.1` and `2130706433` are all `127.0.0.1`), IPv6 in its compressed lower-case form
 * (RFC 5952: `0:0:0:0:0:0:0:1` is `::1`), an IPv4-mapped IPv6 address as its IPv4 address
 * (`::ffff:127.0.0.1` is `127.0.0.1`), and a name in lower case.
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
  /** Host name or IP (IPv6 without brackets), in canonical form; undefined for a local address. */
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
    this.host = host === undefined ? undefined : canonicalHost(host)
    this.port = port
    const h = this.host
    this.#string = h === undefined ? `${protocol}://${system}` : `${protocol}://${system}@${h.includes(':') ? `[${h}]` : h}:${port}`
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

/** IPv4 in dotted decimal, the form a canonical host has (checked before anything else: the common case). */
const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** The canonical form of a host (see {@link Address}). */
function canonicalHost(host: string): string {
  if (DOTTED_QUAD.test(host)) return host
  if (isIPv6(host)) return canonicalIPv6(host)
  return ipv4OfNumbers(host) ?? host.toLowerCase()
}

/**
 * What `inet_aton` (and so `getaddrinfo`) makes of a host made of 1 to 4 numbers, each decimal,
 * octal (`0` first) or hexadecimal (`0x` first), the last filling the bytes left: the IPv4 address
 * in dotted decimal, or undefined when it is not such a host.
 */
function ipv4OfNumbers(host: string): string | undefined {
  const parts = host.split('.')
  if (parts.length > 4) return undefined
  const values: number[] = []
  for (const part of parts) {
    let v: number
    if (/^0x[0-9a-f]+$/i.test(part)) v = Number.parseInt(part.slice(2), 16)
    else if (/^0[0-7]*$/.test(part)) v = Number.parseInt(part, 8)
    else if (/^[1-9][0-9]*$/.test(part)) v = Number(part)
    else return undefined
    values.push(v)
  }
  const last = values.pop() as number
  if (values.some((v) => v > 255)) return undefined
  const lastBytes = 4 - values.length
  if (!(last < 2 ** (8 * lastBytes))) return undefined
  const bytes = [...values]
  for (let i = lastBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 2 ** (8 * i)) % 256)
  return bytes.join('.')
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`; IPv4-mapped as IPv4. */
function canonicalIPv6(host: string): string {
  const zoneAt = host.indexOf('%')
  const zone = zoneAt < 0 ? '' : host.slice(zoneAt)
  let text = (zoneAt < 0 ? host : host.slice(0, zoneAt)).toLowerCase()
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = [...left, ...new Array<string>(tail === undefined ? 0 : 8 - left.length - right.length).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  )
  if (zone === '' && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] as number
    const lo = groups[7] as number
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  let bestAt = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestAt = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  const out = bestAt < 0 ? hex.join(':') : `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLength).join(':')}`
  return out + zone
}
