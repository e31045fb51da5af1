import { lookup } from 'node:dns/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { Address } from '../Address.js'
import { debug } from '../internal/debug.js'

/**
 * The other names of this node's own endpoint: addresses that are not its address but would reach
 * its server (or socket) if dialled, so that a message sent there is refused (dead letters, with a
 * warning) instead of making the node connect to itself. With a port that is the node's bound port:
 *
 * - bound to one address: that address, `localhost` when it is a loopback address, and the
 *   machine's host name when it resolves to it;
 * - bound to all interfaces (`0.0.0.0`, `::`): every address of every interface, all of 127/8 (and
 *   `::1` for `::`), `0.0.0.0` and `::` themselves, `localhost`, and the host name;
 *
 * and the advertised host with the advertised port (behind a NAT, the public address) under any
 * system name. Names are compared in canonical form (see {@link Address}), so `127.1` or
 * `::ffff:127.0.0.1` are the address they stand for. A name this node cannot know reaches itself
 * (another DNS name of the machine) is still refused, one step later: the handshake it sends to
 * itself names another address than its own.
 */
export class SelfAliases {
  private readonly hosts = new Set<string>()
  private readonly allInterfaces: boolean
  private readonly ipv6Too: boolean

  constructor(
    bindHost: string,
    private readonly port: number,
    private readonly self: Address,
  ) {
    const bound = canonical(bindHost)
    this.allInterfaces = bound === '0.0.0.0' || bound === '::'
    this.ipv6Too = bound === '::'
    this.hosts.add(bound)
    if (this.allInterfaces) {
      for (const h of ['0.0.0.0', '::', 'localhost']) this.hosts.add(h)
      for (const list of Object.values(networkInterfaces())) {
        for (const i of list ?? []) if (this.ipv6Too || i.family === 'IPv4') this.hosts.add(canonical(i.address))
      }
    } else if (isLoopback(bound)) this.hosts.add('localhost')
  }

  /** True when `address` (another than the node's own) names this node's endpoint. */
  isSelf(address: Address): boolean {
    const host = address.host
    if (host === undefined) return false
    if (host === this.self.host && address.port === this.self.port) return true
    return address.port === this.port && this.reaches(host)
  }

  /** Adds the machine's host name when it resolves to an address of this node's endpoint (in the background: a slow resolver delays nothing). */
  async learnHostName(): Promise<void> {
    const name = hostname().toLowerCase()
    if (name === '' || this.hosts.has(name)) return
    try {
      const found = await lookup(name, { all: true })
      if (found.some((a) => this.reaches(canonical(a.address)))) this.hosts.add(name)
    } catch (err) {
      debug('host name %s does not resolve: %s', name, (err as Error).message)
    }
  }

  private reaches(host: string): boolean {
    if (this.hosts.has(host)) return true
    return this.allInterfaces && (isLoopback(host) ? isIPv4(host) || this.ipv6Too : false)
  }
}

/** The canonical form of a host, as an address holds it. */
function canonical(host: string): string {
  try {
    return new Address('helios.tcp', 'x', host, 1).host as string
  } catch {
    return host.toLowerCase()
  }
}

function isLoopback(host: string): boolean {
  return (isIPv4(host) && host.startsWith('127.')) || (isIPv6(host) && host === '::1')
}
