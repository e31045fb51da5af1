/**
 * The actor-system processes of the hostile-input benchmark (hostile.bench.ts), one role each:
 *
 * - `victim`: the node under attack: /user/echo (answers every message to its sender) and
 *   /user/sink (counts, never answers). It counts every system event (handshakeFailed by reason,
 *   dropped by kind, associations made and ended), the outbound tcp sockets it opens (the
 *   `net.client.socket` diagnostics channel) and reports them on `stats`; `push` sends bytes to an
 *   actor as fast as it can (the queue attack: the victim is then the sender), or only allocates
 *   them (the queue attack's baseline: what the application's own buffers leave, nothing sent);
 *   `collect` makes a full collection (each row's last step) and says what it freed.
 * - `peer`: the legitimate association: resolves the victim's echo and keeps a ping-pong with it
 *   (tests/support/attacks.ts startPings), counting lost and late pings.
 * - `newcomer`: on each `probe`, a new node (a fresh actor system, new port and uid) that resolves
 *   the victim's echo and asks it once: how long a new node takes to associate, if it can.
 * - `receiver`: a node with /user/sink only (the queue attack's receiver, SIGSTOPped by the parent).
 *
 * Logs are silent. The process exits when the parent goes away. Messages follow faultNode.ts
 * (`ready`, `reply`), so that faultCluster.ts's NodeProc drives it.
 *
 *   node --import tsx lib/hostileNode.ts '<json config>'
 */
import { subscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { ActorSystem, type ActorRef, type RemoteMemoryInfo, type RemoteOptions } from '@helios/actors'
import { type Pings, startPings } from '../../tests/support/attacks.js'
import { errorText, sendToParent, serveParent } from './childNode.js'

export interface HostileNodeConfig {
  role: 'victim' | 'peer' | 'newcomer' | 'receiver'
  name: string
  transport: 'tcp' | 'tls' | 'udp'
  tls?: { key: string; cert: string; ca: string }
  /** Remote options beyond transport, host, port and tls. */
  remote?: Record<string, unknown>
}

/** What the victim counted (the `stats` command). */
export interface VictimStats {
  pid: number
  rssMb: number
  heapUsedMb: number
  externalMb: number
  arrayBuffersMb: number
  /** Events by name: how many were published, and the occurrences they stand for (their `count`). */
  events: Record<string, { events: number; occurrences: number }>
  /** handshakeFailed by reason (addresses, numbers and quoted text replaced), the most frequent first. */
  refusals: { reason: string; count: number }[]
  /** dropped by kind (occurrences). */
  drops: Record<string, number>
  /** Outbound tcp sockets opened (to anyone: the legitimate peer's and the new nodes' included). */
  outboundSockets: number
  /** Associations by state, now. */
  associations: Record<string, number>
  /** Associations by state whose remote system name starts with the `prefix` of the command. */
  matching: Record<string, number>
  /** Messages the sink counted. */
  sinkCount: number
  /** The last 200 remote addresses quarantined (by this node or by the peer), with Date.now(). */
  quarantinedRemotes: { remote: string; at: number }[]
  /** The remoting's memory budget (`system.remoteMemory()`); null where the node has none (before the budget came). */
  memory: RemoteMemoryInfo | null
}

const config = JSON.parse(process.argv[2] ?? '{}') as HostileNodeConfig

const mb = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10
const remoteOf = (): RemoteOptions => ({
  transport: config.transport,
  host: '127.0.0.1',
  port: 0,
  ...(config.tls !== undefined ? { tls: { ...config.tls, requestCert: true } } : {}),
  ...config.remote,
})

/** A reason with what varies between occurrences (addresses, numbers, quoted text) taken out. */
function normalized(reason: string): string {
  return reason
    .replace(/helios\.[a-z]+:\/\/\S*/g, '<address>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+(\.\d+)*/g, 'N')
    .slice(0, 110)
}

const system = await ActorSystem.create(config.name, { logger: 'silent', remote: remoteOf() })

const events: Record<string, { events: number; occurrences: number }> = {}
const refusals = new Map<string, number>()
const drops: Record<string, number> = {}
let outboundSockets = 0
let sinkCount = 0
const quarantinedRemotes: { remote: string; at: number }[] = []

if (config.role === 'victim') {
  for (const name of ['associated', 'disassociated', 'quarantined', 'unreachable', 'dropped', 'handshakeFailed', 'actorFailed'] as const) {
    system.events.on(name, (ev) => {
      const n = (ev as { count?: number }).count ?? 1
      const e = (events[name] ??= { events: 0, occurrences: 0 })
      e.events++
      e.occurrences += n
      if (name === 'handshakeFailed') {
        const key = normalized((ev as { reason: string }).reason)
        if (refusals.size < 1000 || refusals.has(key)) refusals.set(key, (refusals.get(key) ?? 0) + n)
      } else if (name === 'quarantined') {
        quarantinedRemotes.push({ remote: String((ev as { remote: unknown }).remote), at: Date.now() })
        if (quarantinedRemotes.length > 200) quarantinedRemotes.shift()
      } else if (name === 'dropped') {
        const kind = (ev as { kind: string }).kind
        drops[kind] = (drops[kind] ?? 0) + n
      }
    })
  }
  subscribe('net.client.socket', () => {
    outboundSockets++
  })
  system.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
}
if (config.role === 'victim' || config.role === 'receiver') {
  system.actorOf(() => {
    sinkCount++
  }, 'sink')
}

let pings: Pings | undefined
let probes = 0
/** The queue attack's receiver, resolved by `prepare` (before the parent stops it). */
let pushTo: ActorRef | undefined
/** The buffers `push` with `send: false` holds until `release`. */
let held: Uint8Array[] = []

type Command =
  | { cmd: 'stats'; prefix?: string }
  | { cmd: 'ping'; path: string; intervalMs: number; timeoutMs: number; lateMs: number }
  | { cmd: 'pingStop' }
  | { cmd: 'probe'; path: string; timeoutMs: number }
  | { cmd: 'prepare'; path: string }
  | {
      cmd: 'push'
      totalBytes: number
      messageBytes: number
      /** Sends one buffer again and again instead of a fresh one per message (what the remoting itself allocates). */
      reuse?: boolean
      /** false: allocates the messages without sending them, holding the first `hold` until `release`. */
      send?: boolean
      hold?: number
    }
  | { cmd: 'release' }
  | { cmd: 'collect' }

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'stats': {
      const associations: Record<string, number> = {}
      const matching: Record<string, number> = {}
      for (const a of system.associations()) {
        associations[a.state] = (associations[a.state] ?? 0) + 1
        if (c.prefix !== undefined && a.remote.system.startsWith(c.prefix)) matching[a.state] = (matching[a.state] ?? 0) + 1
      }
      const stats: VictimStats = {
        pid: process.pid,
        ...memoryFigures(),
        events,
        refusals: [...refusals]
          .map(([reason, count]) => ({ reason, count }))
          .sort((a, b) => b.count - a.count)
          .slice(0, 25),
        drops,
        outboundSockets,
        associations,
        matching,
        sinkCount,
        quarantinedRemotes,
        // remoteMemory() is absent from builds before the memory budget (the bench runs against them too)
        memory: typeof system.remoteMemory === 'function' ? (system.remoteMemory() ?? null) : null,
      }
      return stats
    }
    case 'ping': {
      const echo = await system.actorSelection(c.path).resolveOne({ timeoutMs: 10_000 })
      pings = startPings(system, echo, { intervalMs: c.intervalMs, timeoutMs: c.timeoutMs, lateMs: c.lateMs })
      return true
    }
    case 'pingStop':
      return pings === undefined ? null : await pings.stop()
    case 'probe': {
      // A new node: a fresh actor system (new port, new uid), timed until its first answer.
      const started = performance.now()
      let node: ActorSystem | undefined
      let phase = 'create'
      try {
        node = await ActorSystem.create(`Newcomer${++probes}`, { logger: 'silent', remote: remoteOf() })
        phase = 'resolveOne'
        const echo = await node.actorSelection(c.path).resolveOne({ timeoutMs: c.timeoutMs })
        phase = 'ask'
        const left = Math.max(1, c.timeoutMs - (performance.now() - started))
        await node.ask(echo, 'hello', { timeoutMs: left })
        return { ok: true, ms: Math.round(performance.now() - started) }
      } catch (err) {
        return { ok: false, ms: Math.round(performance.now() - started), error: `${phase}: ${errorText(err)}` }
      } finally {
        await node?.terminate()
      }
    }
    case 'prepare':
      pushTo = await system.actorSelection(c.path).resolveOne({ timeoutMs: 10_000 })
      return true
    case 'push': {
      // The queue attack: as fast as this node can, `totalBytes` in fresh messages of `messageBytes`
      // (each its own buffer, as an application's would be), yielding now and then so that the links
      // write and the parent's commands are answered. With `reuse`, one buffer sent again and again;
      // with `send: false`, the same fresh buffers allocated the same way but not sent, the first
      // `hold` kept (as the outbound queue would keep them) until `release`.
      const to = pushTo
      const send = c.send !== false
      if (send && to === undefined) throw new Error('push before prepare')
      const started = performance.now()
      let sent = 0
      let since = 0
      const reused = c.reuse === true ? new Uint8Array(c.messageBytes).fill(1) : undefined
      for (let bytes = 0; bytes < c.totalBytes; bytes += c.messageBytes) {
        const m = reused ?? new Uint8Array(c.messageBytes).fill(sent & 0xff)
        if (send) to?.tell(m)
        else if (held.length < (c.hold ?? 0)) held.push(m)
        sent++
        since += c.messageBytes
        if (since >= 8 * 2 ** 20) {
          since = 0
          await new Promise((r) => setImmediate(r))
        }
      }
      return { sent, ms: Math.round(performance.now() - started) }
    }
    case 'release': {
      const n = held.length
      held = []
      return { released: n }
    }
    case 'collect': {
      // A full collection (each row's last step): what survives it is still referenced.
      const before = memoryFigures()
      fullGc()
      await new Promise((r) => setTimeout(r, 200))
      return { before, after: memoryFigures(), mallocHeapMb: mallocHeapMb() }
    }
  }
}

/** The process's memory in MB. */
function memoryFigures(): { rssMb: number; heapUsedMb: number; externalMb: number; arrayBuffersMb: number } {
  const m = process.memoryUsage()
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) }
}

/** What glibc's main heap (`[heap]` in /proc/self/smaps) keeps resident, in MB; null when there is none. */
function mallocHeapMb(): number | null {
  const smaps = readFileSync('/proc/self/smaps', 'utf8')
  const at = smaps.search(/ \[heap\]\n/)
  if (at < 0) return null
  const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at))
  return rss === null ? null : mb(Number(rss[1]) * 1024)
}

let gc: (() => void) | undefined
/** V8's full collection, without starting the process with --expose-gc. */
function fullGc(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}

serveParent<Command>(handle)

sendToParent({ type: 'ready', address: system.address.toString(), uid: system.nodeUid.toString(), pid: process.pid, at: Date.now() })
