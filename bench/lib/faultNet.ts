/**
 * Where the nodes of the faults benchmark live. As root: one network namespace per node, each
 * with a veth pair whose other end is a port of one bridge in a dedicated namespace, addresses
 * 10.77.x.y/16, permanent neighbour entries (the kernel's neighbour table holds 1,024 entries
 * by default, and a partitioned peer must not turn into a failed ARP lookup); a partition takes
 * the bridge-side end of a node's veth down (the node sees its link lose carrier, like a pulled
 * cable; nothing is refused, packets are just not delivered). Otherwise: every node on
 * 127.0.0.1 with a port of its own, and no partitions.
 *
 * Everything is removed at exit (also on Ctrl-C and on a crash); leftovers of a run that could
 * not clean up (SIGKILL) are removed at the next start.
 */
import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { selfSignedCertificate } from '@helios/transport/testing'

/** Every namespace of a faults run starts with this (other benchmarks pass a prefix of their own). */
export const NS_PREFIX = 'hfaults-'
const bridgeNs = (prefix: string): string => `${prefix}br`
/** The port every node listens on inside its own namespace. */
export const NS_PORT = 2552

export interface NodeSlot {
  readonly index: number
  readonly host: string
  readonly port: number
  /** Its namespace (netns mode). */
  readonly ns?: string
  /** The bridge-side end of its veth (netns mode). */
  readonly veth?: string
}

export interface FaultNet {
  readonly mode: 'netns' | 'loopback'
  /** Why partitions are not available (loopback mode). */
  readonly noPartitionReason?: string
  readonly slots: readonly NodeSlot[]
  /** The command that runs `argv` in the node's place. */
  command(slot: NodeSlot, argv: string[]): { file: string; args: string[] }
  /** Cuts the node off the bridge (netns mode only). */
  partition(slot: NodeSlot): void
  heal(slot: NodeSlot): void
  /** Removes everything this run made; synchronous, safe to call more than once. */
  cleanup(): void
}

function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
}

/** Node i (0-based) gets 10.77.x.y with x.y = i + 1 (up to 65,533 nodes). */
export function nodeAddress(index: number): string {
  const n = index + 1
  return `10.77.${n >> 8}.${n & 255}`
}

function mac(index: number, bridgeSide: boolean): string {
  const n = index + 1
  const hex = (b: number): string => b.toString(16).padStart(2, '0')
  return `02:77:${bridgeSide ? '01' : '00'}:00:${hex(n >> 8)}:${hex(n & 255)}`
}

/** Namespaces left by a run that could not clean up: their processes are killed, then they go. */
export function removeLeftovers(prefix = NS_PREFIX): string[] {
  const BRIDGE_NS = bridgeNs(prefix)
  let list = ''
  try {
    list = ip(['netns', 'list'])
  } catch {
    return []
  }
  const names = list
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix))
  for (const ns of names) {
    try {
      for (const pid of ip(['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          /* gone */
        }
      }
    } catch {
      /* no pids */
    }
  }
  // the bridge namespace last: deleting a node namespace first removes its veth
  for (const ns of [...names.filter((n) => n !== BRIDGE_NS), ...names.filter((n) => n === BRIDGE_NS)]) {
    try {
      ip(['netns', 'del', ns])
    } catch {
      /* already gone */
    }
  }
  return names
}

/** Whether this process can make namespaces (root with CAP_NET_ADMIN, `ip` present); else why not. */
export function netnsUnavailable(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root (network namespaces need root)'
  try {
    ip(['netns', 'list'])
  } catch (err) {
    return `\`ip netns\` is not usable: ${(err as Error).message.split('\n')[0]}`
  }
  return undefined
}

/**
 * Builds the namespaces, bridge and veths for `count` nodes; `prefix` names the namespaces (a run
 * removes the leftovers of its own prefix only, so two benchmarks with different prefixes do not
 * meet).
 */
export function createNetnsNet(count: number, prefix = NS_PREFIX): FaultNet {
  removeLeftovers(prefix)
  const BRIDGE_NS = bridgeNs(prefix)
  const slots: NodeSlot[] = []
  let cleaned = false
  const made: string[] = []
  const cleanup = (): void => {
    if (cleaned) return
    cleaned = true
    for (const ns of [...made].reverse()) {
      try {
        for (const pid of ip(['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {
            /* gone */
          }
        }
      } catch {
        /* none */
      }
      try {
        ip(['netns', 'del', ns])
      } catch {
        /* gone */
      }
    }
  }
  try {
    ip(['netns', 'add', BRIDGE_NS])
    made.push(BRIDGE_NS)
    const bridgeCmds = ['link set lo up', 'link add br0 type bridge stp_state 0', 'link set br0 up']
    for (let i = 0; i < count; i++) {
      const ns = `${prefix}n${i}`
      ip(['netns', 'add', ns])
      made.push(ns)
      const veth = `hfv${i}`
      bridgeCmds.push(
        `link add ${veth} address ${mac(i, true)} type veth peer name eth0 netns ${ns} address ${mac(i, false)}`,
        `link set ${veth} master br0`,
        `link set ${veth} up`,
      )
      slots.push({ index: i, host: nodeAddress(i), port: NS_PORT, ns, veth })
    }
    ip(['-n', BRIDGE_NS, '-batch', '-'], `${bridgeCmds.join('\n')}\n`)
    for (const s of slots) {
      const cmds = ['link set lo up', `addr add ${s.host}/16 dev eth0`, 'link set eth0 up']
      for (const o of slots) if (o !== s) cmds.push(`neigh replace ${o.host} lladdr ${mac(o.index, false)} dev eth0 nud permanent`)
      ip(['-n', s.ns as string, '-batch', '-'], `${cmds.join('\n')}\n`)
    }
  } catch (err) {
    cleanup()
    throw err
  }
  return {
    mode: 'netns',
    slots,
    command: (slot, argv) => ({ file: 'ip', args: ['netns', 'exec', slot.ns as string, ...argv] }),
    partition: (slot) => {
      ip(['-n', BRIDGE_NS, 'link', 'set', slot.veth as string, 'down'])
    },
    heal: (slot) => {
      ip(['-n', BRIDGE_NS, 'link', 'set', slot.veth as string, 'up'])
    },
    cleanup,
  }
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freePort(udp: boolean): Promise<number> {
  if (udp) {
    const s = createSocket('udp4')
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
    const port = s.address().port
    await new Promise<void>((resolve) => s.close(() => resolve()))
    return port
  }
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Every node on 127.0.0.1, each with a port that was free a moment ago (kept across restarts). */
export async function createLoopbackNet(count: number, udp: boolean, reason: string): Promise<FaultNet> {
  const slots: NodeSlot[] = []
  const ports = new Set<number>()
  while (slots.length < count) {
    const port = await freePort(udp)
    if (ports.has(port)) continue
    ports.add(port)
    slots.push({ index: slots.length, host: '127.0.0.1', port })
  }
  const unavailable = (): never => {
    throw new Error(`partitions need network namespaces: ${reason}`)
  }
  return {
    mode: 'loopback',
    noPartitionReason: reason,
    slots,
    command: (_slot, argv) => ({ file: argv[0] as string, args: argv.slice(1) }),
    partition: unavailable,
    heal: unavailable,
    cleanup: () => {},
  }
}

/**
 * TLS material for the cluster, made in-process like lib/certs.ts (one self-signed certificate
 * used by every node as key, certificate and trust anchor), with every node address in its
 * subjectAltName so that hostname verification passes on 10.77.x.y.
 */
export function makeClusterTls(hosts: readonly string[]): { key: string; cert: string; ca: string } {
  const { key, cert } = selfSignedCertificate({ hosts: ['localhost', ...new Set(['127.0.0.1', ...hosts])], days: 2 })
  return { key, cert, ca: cert }
}
