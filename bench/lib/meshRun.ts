/**
 * The phases of the mesh benchmark (mesh.bench.ts): node processes started in their slots
 * (lib/faultNet.ts, lib/faultCluster.ts), then
 *
 * 1. mesh formation: every node resolves and asks /user/echo on every other node, retrying until
 *    a bound; what never answered is listed;
 * 2. idle, nothing watched, then idle with every node watching /user/echo on every other node:
 *    CPU, RSS, descriptors, TCP connections (per node, per pair, which carried payload both ways),
 *    packets and frames sent per second, per node, read from outside the nodes over a window;
 * 3. traffic: every node tells every other node's sink at a fixed rate, with asks sampled from
 *    the stream; delivered vs sent per pair, latency percentiles, 'dropped' events;
 * 4. SIGKILL of one node: when each watcher got Terminated.
 *
 * The star run: one observer facing N peers packed into a few processes (many actor systems per
 * process); mesh formation both ways, then the observer's cost while idle, unwatched and watching.
 *
 * Every figure is measured; what did not happen within a phase's bound is reported as missing.
 */
import { availableParallelism } from 'node:os'
import type { NodeProc } from './faultCluster.js'
import { spawnNode } from './faultCluster.js'
import { type FaultNet, freePort, NS_PORT, type NodeSlot } from './faultNet.js'
import type { EventRecord, MeshNodeConfig, NodeStats, PairResult, TrafficResult } from './meshNode.js'
import {
  cpuSeconds,
  descriptors,
  type IfCounters,
  machineCpu,
  mapLimit,
  netDev,
  nofileLimit,
  rssMb,
  type TcpConn,
  tcpConnections,
  udpDrops,
} from './meshProbe.js'
import type { Progress } from './progress.js'

export type Transport = 'tcp' | 'tls' | 'udp'
export type Phase = 'mesh' | 'idle' | 'watched' | 'traffic' | 'kill'
export const PHASES: readonly Phase[] = ['mesh', 'idle', 'watched', 'traffic', 'kill']

export interface MeshOptions {
  /** Node processes (mesh run). */
  nodes: number
  /** Peers of the observer (star run); undefined: a mesh run. */
  star: number | undefined
  /** Processes the star's peers are packed into. */
  starProcs: number
  transports: Transport[]
  phases: Phase[]
  netns: boolean
  meshBoundS: number
  attemptTimeoutS: number
  retryDelayMs: number
  settleS: number
  /** Pause between mesh formation and the first idle window (a node's CPU stays higher for a while after the formation). */
  warmupS: number
  idleS: number
  rate: number
  trafficS: number
  askIntervalMs: number
  askTimeoutMs: number
  drainS: number
  terminatedWaitS: number
  victim: number
  heartbeatIntervalMs: number | undefined
  /** More remote options, as given (--remote-json). */
  remote: Record<string, unknown>
  startParallel: number
  /** Descriptor limit set on the node processes (prlimit), when one is. */
  nofile: number | undefined
  /** Sample event-loop delay in every node (it costs CPU); the star's observer always does. */
  eld: boolean
  json: boolean
  updateResults: boolean
  outDir: string
  help: boolean
}

/** min / mean / p50 / p90 / max of a set of values (null: nothing measured). */
export interface Dist {
  n: number
  min: number
  mean: number
  p50: number
  p90: number
  max: number
}

export function dist(values: readonly number[]): Dist | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const at = (q: number): number => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))] as number
  const r = (x: number): number => Math.round(x * 1000) / 1000
  return {
    n: v.length,
    min: r(v[0] as number),
    mean: r(v.reduce((a, b) => a + b, 0) / v.length),
    p50: r(at(0.5)),
    p90: r(at(0.9)),
    max: r(v[v.length - 1] as number),
  }
}

export interface Tally {
  text: string
  count: number
}

export interface MeshPhase {
  pairs: number
  answered: number
  missing: number
  boundMs: number
  /** From the command to the last pair answering, when every pair answered. */
  allAnsweredMs: number | null
  /** When the pairs answered (ms after the command). */
  answeredMs: Dist | null
  attempts: number
  retries: number
  pairsRetried: number
  /** Last errors of attempts that failed (pairs that answered later included), by text. */
  errors: Tally[]
  /** The pairs that never answered (a sample). */
  missingSample: string[]
  missingBySource: Tally[]
  missingByTarget: Tally[]
  /** Pairs answered over time. */
  timeline: { s: number; answered: number }[]
  /** Established associations per node when the bound was reached (or every pair answered). */
  establishedAtEnd: Dist | null
  events: Record<string, number>
  eventTally: Tally[]
  /** The pairs that had not answered, tried once more after a pause (one resolveOne + ask each). */
  secondPass?: { afterS: number; pairs: number; answered: number; errors: Tally[]; establishedBefore: Dist | null }
  /** The first pairs that had not answered when the bound was reached: what both ends said about each other. */
  missingPairs?: PairDiagnostics[]
}

/** What the two ends of a pair say about each other: their associations, and the events naming the other end. */
export interface PairDiagnostics {
  pair: string
  sender: unknown[]
  receiver: unknown[]
  senderEvents: string[]
  receiverEvents: string[]
}

export interface ConnStats {
  /** Established TCP connections per node (mesh), or of the observer (star). */
  perNode: Dist | null
  /** Connections per pair of nodes: how many pairs had 0, 1, 2, ... (mesh only). */
  perPairHistogram: Record<string, number>
  perPairMax: number | null
  /** Connections whose payload bytes grew both ways / one way / not at all over the window. */
  bothWays: number
  oneWay: number
  silent: number
  total: number
}

export interface IdlePhase {
  windowS: number
  watches?: { watches: number; ms: number; unacked: number }
  cpuPct: Dist | null
  rssMb: Dist | null
  /** V8 heap used per node at the end of the window (MiB; where it stands between collections). */
  heapUsedMb?: Dist | null
  fds: Dist | null
  conns: ConnStats | null
  /** Packets sent per second per node (its namespace's eth0; loopback: lo of the machine / nodes). */
  packetsPerSec: Dist | null
  packetsNote: string
  framesPerSec: Dist | null
  bytesPerSec: Dist | null
  /** Garbage collections per node in the window: count and total ms. */
  gcCount: Dist | null
  gcMs: Dist | null
  established: Dist | null
  eldMs: { mean: Dist | null; p99: Dist | null; max: Dist | null } | null
  machine: { busyPct: number; nodesPct: number; cores: number }
  events: Record<string, number>
  eventTally: Tally[]
}

export interface StarIdle {
  windowS: number
  watches?: { watches: number; ms: number; unacked: number }
  observer: {
    cpuPct: number | null
    rssMb: number | null
    /** V8 heap used at the end of the window (MiB). */
    heapUsedMb?: number | null
    fds: number | null
    nofile: number | null
    tcpConnections: number | null
    /** Connections of the observer with payload both ways / one way / none over the window. */
    bothWays: number | null
    oneWay: number | null
    silent: number | null
    associations: number
    established: number
    framesSentPerSec: number | null
    framesReceivedPerSec: number | null
    packetsSentPerSec: number | null
    packetsReceivedPerSec: number | null
    packetsNote: string
    eld: { mean: number; p50: number; p99: number; max: number } | null
    /** Garbage collections in the window (count, total ms). */
    gcCount: number
    gcMs: number
  }
  peers: { processes: number; cpuPctPerProcess: Dist | null; rssMbPerProcess: Dist | null; fdsPerProcess: Dist | null }
  machine: { busyPct: number; nodesPct: number; cores: number }
  events: Record<string, number>
  eventTally: Tally[]
}

export interface TrafficPhase {
  ratePerPeer: number
  durationS: number
  expected: number
  sent: number
  delivered: number
  duplicates: number
  outOfOrder: number
  lost: number
  pairs: number
  pairsWithLoss: number
  lossSample: string[]
  drainMs: number
  /** How late the senders' ticks ran (ms, per node: its maximum). */
  senderLateMaxMs: Dist | null
  asks: number
  askFailures: number
  askErrors: Tally[]
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number } | null
  droppedEvents: number
  droppedMessages: number
  droppedByKind: Tally[]
  /** Dead letters at all nodes during the traffic (a message that arrived for no actor, ...). */
  deadLetters: number
  /** What the associations of the first pairs that lost messages say, at both ends, and their events during the traffic. */
  lossyPairs: PairDiagnostics[]
  /**
   * Messages the receivers reported lost in transit ('dropped' events of kind lost-in-transit),
   * against what the sinks did not count, per pair: pairs where the report exceeds the loss, and
   * the first of them diagnosed.
   */
  lostReports?: { reported: number; pairsReporting: number; pairsOverreported: number; overreported: number; sample: PairDiagnostics[] }
  /** Datagrams the kernels of the nodes' namespaces dropped during the traffic for full receive buffers (udp in netns mode; else null). */
  udpRcvbufErrors?: number | null
  events: Record<string, number>
  eventTally: Tally[]
  cpuPct: Dist | null
}

export interface KillPhase {
  victim: string
  victimAddress: string
  watchers: number
  terminated: number
  /** ms from the SIGKILL to Terminated at each watcher that got it. */
  terminatedMs: Dist | null
  waitedMs: number
  missing: string[]
  events: Record<string, number>
  eventTally: Tally[]
}

export interface TransportResult {
  transport: Transport
  kind: 'mesh' | 'star'
  /** Nodes of the mesh, or peers of the star. */
  nodes: number
  processes: number
  startMs: number
  nofile: { set: number | null; min: number | null; max: number | null }
  mesh?: MeshPhase
  idle?: IdlePhase
  watched?: IdlePhase
  starIdle?: StarIdle
  starWatched?: StarIdle
  traffic?: TrafficPhase
  kill?: KillPhase
  error?: string
  durationMs: number
}

export interface RunContext {
  readonly transport: Transport
  readonly net: FaultNet
  readonly opts: MeshOptions
  readonly tls?: { key: string; cert: string; ca: string }
  readonly progress: Progress
  readonly output: NodeJS.WritableStream
  readonly nodeMain: string
  /** Pids of every node process started (for "what else ran"). */
  readonly pids: Set<number>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** A reason without what differs from peer to peer (addresses, uids, numbers), so that equal reasons group. */
export function normalize(text: string): string {
  return text
    .replace(/helios\.(tcp|tls|udp):\/\/[A-Za-z0-9_-]+@[0-9.]+:\d+(\/[^\s,;)]*)?/g, '<node>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}:\d+\b/g, '<ip:port>')
    .replace(/\buid \d+/g, 'uid <n>')
    .replace(/\bphi (\d+(\.\d+)?|Infinity)/g, (_m, v: string) => (v === 'Infinity' ? 'phi Infinity' : 'phi <x>'))
    .replace(/\b\d+ ms\b/g, '<n> ms')
}

export function tally(texts: Iterable<string>, limit = 6): Tally[] {
  const m = new Map<string, number>()
  for (const t of texts) m.set(t, (m.get(t) ?? 0) + 1)
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([text, count]) => ({ text, count }))
}

/** Events of all processes between two times, grouped by name and normalized detail. */
async function eventTallyOf(procs: NodeProc[], since: number, until: number, limit = 8): Promise<Tally[]> {
  const all = await mapLimit(procs, 16, (p) =>
    p
      .command<{ events: EventRecord[]; truncated: boolean }>('events', { since, until }, 30_000)
      .catch(() => ({ events: [] as EventRecord[], truncated: false })),
  )
  const m = new Map<string, number>()
  let truncated = false
  for (const r of all) {
    truncated ||= r.truncated
    for (const e of r.events) {
      const k = `${e.name}${e.detail ? `: ${normalize(e.detail)}` : ''}`
      m.set(k, (m.get(k) ?? 0) + (e.name === 'dropped' ? e.count : 1))
    }
  }
  const out = [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([text, count]) => ({ text, count }))
  if (truncated) out.push({ text: '(some node kept only its first 20,000 events)', count: 0 })
  return out
}

function eventDelta(before: NodeStats[], after: NodeStats[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < after.length; i++) {
    const a = after[i]?.events ?? {}
    const b = before[i]?.events ?? {}
    for (const [k, v] of Object.entries(a)) {
      const d = v - (b[k] ?? 0)
      if (d !== 0) out[k] = (out[k] ?? 0) + d
    }
  }
  return out
}

async function statsOf(procs: NodeProc[], resetEld = false): Promise<NodeStats[]> {
  return mapLimit(procs, 16, (p) => p.command<NodeStats>('stats', { resetEld }, 30_000))
}

// ---- starting the processes ------------------------------------------------------------------------

interface Placed {
  slot: NodeSlot
  name: string
  systems: { name: string; port: number }[]
}

async function startProcesses(ctx: RunContext, placed: Placed[], eldFor: (p: Placed) => boolean): Promise<NodeProc[]> {
  const o = ctx.opts
  const remote: Record<string, unknown> = {
    ...(o.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
    ...o.remote,
  }
  const procs: NodeProc[] = new Array(placed.length)
  let started = 0
  await mapLimit(placed, o.startParallel, async (p, i) => {
    const config: MeshNodeConfig = {
      index: i,
      transport: ctx.transport,
      host: p.slot.host,
      systems: p.systems,
      remote,
      eventLoopDelay: eldFor(p),
      ...(ctx.transport === 'tls' && ctx.tls !== undefined ? { tls: ctx.tls } : {}),
    }
    const proc = await spawnNode({
      net: ctx.net,
      slot: p.slot,
      name: p.name,
      main: ctx.nodeMain,
      config,
      output: ctx.output,
      timeoutMs: 120_000 + p.systems.length * 1000,
      ...(o.nofile !== undefined ? { wrap: ['prlimit', `--nofile=${o.nofile}:${o.nofile}`, '--'] } : {}),
      env: { ...process.env, HELIOS_LOG_LEVEL: 'silent' },
    })
    ctx.pids.add(proc.pid)
    procs[i] = proc
    started++
    ctx.progress.status(`${ctx.transport}: ${started}/${placed.length} processes listening`)
  })
  return procs
}

/** The node pid (`ip netns exec` and `prlimit` exec it, so the child's pid is the node's). */
const pidOf = (p: NodeProc): number => p.pid

// ---- snapshots -------------------------------------------------------------------------------------

interface Snapshot {
  at: number
  cpu: (number | undefined)[]
  rss: (number | undefined)[]
  fds: number[]
  sockets: Set<number>[]
  dev: (IfCounters | undefined)[]
  /** The machine's lo (loopback mode). */
  lo: IfCounters | undefined
  machine: { busy: number; total: number }
  stats: NodeStats[]
  conns: TcpConn[] | undefined
}

/** Established connections of every namespace involved (deduplicated by inode). */
async function connectionsOf(ctx: RunContext, procs: NodeProc[]): Promise<TcpConn[] | undefined> {
  if (ctx.transport === 'udp') return undefined
  try {
    if (ctx.net.mode === 'loopback') return await tcpConnections(undefined)
    const lists = await mapLimit(procs, 8, (p) => tcpConnections(p.slot.ns))
    const seen = new Map<number, TcpConn>()
    for (const l of lists) for (const c of l) seen.set(c.inode, c)
    return [...seen.values()]
  } catch (err) {
    ctx.progress.note(`ss failed (${(err as Error).message.split('\n')[0]}): no connection counts`)
    return undefined
  }
}

/**
 * A snapshot around a window: at the start the slow parts (IPC, ss) go first and CPU last, at the
 * end CPU first, so that the window's CPU does not include the measuring.
 */
async function snapshot(ctx: RunContext, procs: NodeProc[], at: 'start' | 'end', resetEld: boolean): Promise<Snapshot> {
  const dev = ctx.net.mode === 'netns' ? 'eth0' : 'lo'
  const readProc = (): Pick<Snapshot, 'at' | 'cpu' | 'dev' | 'lo' | 'machine'> => ({
    at: Date.now(),
    cpu: procs.map((p) => cpuSeconds(pidOf(p))),
    dev: ctx.net.mode === 'netns' ? procs.map((p) => netDev(pidOf(p), dev)) : procs.map(() => undefined),
    lo: ctx.net.mode === 'loopback' ? netDev(process.pid, 'lo') : undefined,
    machine: machineCpu(),
  })
  let fast: Pick<Snapshot, 'at' | 'cpu' | 'dev' | 'lo' | 'machine'> | undefined
  if (at === 'end') fast = readProc()
  const stats = await statsOf(procs, resetEld)
  const fds = procs.map((p) => descriptors(pidOf(p)))
  const conns = await connectionsOf(ctx, procs)
  const rss = procs.map((p) => rssMb(pidOf(p)))
  if (at === 'start') {
    await sleep(200)
    fast = readProc()
  }
  const f = fast as NonNullable<typeof fast>
  return { ...f, rss, fds: fds.map((d) => d.count), sockets: fds.map((d) => d.sockets), stats, conns }
}

/** Which node owns each socket inode, and which node listens at each host:port. */
function connStats(
  a: Snapshot,
  b: Snapshot,
  procs: NodeProc[],
  listeners: Map<string, number>,
  pairNodes: number | undefined,
): { perNodeCounts: number[]; stats: ConnStats } | null {
  if (b.conns === undefined) return null
  const owner = new Map<number, number>()
  b.sockets.forEach((set, i) => {
    for (const ino of set) owner.set(ino, i)
  })
  const before = new Map<number, TcpConn>()
  for (const c of a.conns ?? []) before.set(c.inode, c)
  const perNode = procs.map(() => 0)
  const pairs = new Map<string, number>()
  let bothWays = 0
  let oneWay = 0
  let silent = 0
  let total = 0
  for (const c of b.conns) {
    const i = owner.get(c.inode)
    if (i === undefined) continue
    perNode[i] = (perNode[i] ?? 0) + 1
    total++
    const was = before.get(c.inode)
    const sent = c.bytesSent - (was?.bytesSent ?? 0)
    const recv = c.bytesReceived - (was?.bytesReceived ?? 0)
    if (sent > 0 && recv > 0) bothWays++
    else if (sent > 0 || recv > 0) oneWay++
    else silent++
    // count each connection once, at the side that dialled it (its peer is a listening address)
    const j = listeners.get(c.peer)
    if (pairNodes !== undefined && j !== undefined && j !== i) {
      const k = i < j ? `${i}-${j}` : `${j}-${i}`
      pairs.set(k, (pairs.get(k) ?? 0) + 1)
    }
  }
  const histogram: Record<string, number> = {}
  let max: number | null = null
  if (pairNodes !== undefined) {
    const allPairs = (pairNodes * (pairNodes - 1)) / 2
    let counted = 0
    for (const n of pairs.values()) {
      histogram[String(n)] = (histogram[String(n)] ?? 0) + 1
      counted++
      max = Math.max(max ?? 0, n)
    }
    if (allPairs - counted > 0) histogram['0'] = allPairs - counted
    max ??= 0
  }
  return {
    perNodeCounts: perNode,
    stats: { perNode: dist(perNode), perPairHistogram: histogram, perPairMax: max, bothWays, oneWay, silent, total },
  }
}

const pct = (cpuA: number | undefined, cpuB: number | undefined, seconds: number): number =>
  cpuA === undefined || cpuB === undefined || seconds <= 0 ? Number.NaN : ((cpuB - cpuA) / seconds) * 100

function machineShare(a: Snapshot, b: Snapshot, nodesCpuSeconds: number): { busyPct: number; nodesPct: number; cores: number } {
  const cores = navigatorCores()
  const totalJ = b.machine.total - a.machine.total
  const busyPct = totalJ > 0 ? ((b.machine.busy - a.machine.busy) / totalJ) * 100 : Number.NaN
  const seconds = (b.at - a.at) / 1000
  return {
    busyPct: Math.round(busyPct * 10) / 10,
    nodesPct: Math.round((nodesCpuSeconds / (seconds * cores)) * 1000) / 10,
    cores,
  }
}

const navigatorCores = (): number => availableParallelism()

// ---- phase 1: mesh formation ---------------------------------------------------------------------

async function meshPhase(
  ctx: RunContext,
  procs: NodeProc[],
  targetsOf: (i: number) => string[],
  label: (i: number, r: PairResult) => { from: string; to: string },
): Promise<MeshPhase> {
  const o = ctx.opts
  const t0 = Date.now()
  const deadlineAt = t0 + o.meshBoundS * 1000
  const answered = procs.map(() => 0)
  const failed = procs.map(() => 0)
  const totals = procs.map(() => 0)
  const timeline: { s: number; answered: number }[] = []
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0)
  procs.forEach((p, i) => {
    p.onOther = (m) => {
      const g = m as { type: string; answered?: number; failed?: number; total?: number }
      if (g.type !== 'progress') return
      answered[i] = g.answered ?? 0
      failed[i] = g.failed ?? 0
      totals[i] = g.total ?? 0
    }
  })
  const before = await statsOf(procs)
  const ticker = setInterval(() => {
    const s = Math.round((Date.now() - t0) / 1000)
    timeline.push({ s, answered: sum(answered) })
    ctx.progress.status(
      `${ctx.transport} mesh: ${sum(answered).toLocaleString('en-US')}/${sum(totals).toLocaleString('en-US')} pairs answered, ${s} s`,
    )
    if (s % 10 === 0) ctx.progress.note(`  ${ctx.transport} mesh: ${sum(answered)}/${sum(totals)} pairs answered after ${s} s`)
  }, 1000)
  let results: PairResult[][]
  try {
    results = await Promise.all(
      procs.map((p, i) =>
        p
          .command<PairResult[]>(
            'mesh',
            { targets: targetsOf(i), deadlineAt, attemptTimeoutMs: o.attemptTimeoutS * 1000, retryDelayMs: o.retryDelayMs },
            o.meshBoundS * 1000 + 60_000,
          )
          .catch((err: unknown) => {
            ctx.progress.note(`  ${p.name} did not report its mesh results: ${(err as Error).message}`)
            return [] as PairResult[]
          }),
      ),
    )
  } finally {
    clearInterval(ticker)
  }
  const tEnd = Date.now()
  const after = await statsOf(procs)
  let pairs = 0
  let ok = 0
  let attempts = 0
  let pairsRetried = 0
  let retries = 0
  const times: number[] = []
  const errors: string[] = []
  const missing: { from: string; to: string; error: string }[] = []
  const unanswered: { proc: number; s: number; t: number }[] = []
  lastUnanswered.set(ctx.transport, unanswered)
  results.forEach((list, i) => {
    for (const r of list) {
      pairs++
      attempts += r.attempts
      if (r.attempts > 1) pairsRetried++
      retries += Math.max(0, r.attempts - 1)
      if (r.error !== undefined && (!r.ok || r.attempts > 1)) errors.push(normalize(r.error))
      if (r.ok) {
        ok++
        times.push((r.at as number) - t0)
      } else {
        missing.push({ ...label(i, r), error: normalize(r.error ?? '') })
        unanswered.push({ proc: i, s: r.s, t: r.t })
      }
    }
  })
  // a process that reported nothing: its pairs are missing too
  const expected = sum(totals)
  if (expected > pairs) pairs = expected
  const allAnswered = ok === pairs && pairs > 0
  timeline.push({ s: Math.round((tEnd - t0) / 1000), answered: ok })
  return {
    pairs,
    answered: ok,
    missing: pairs - ok,
    boundMs: o.meshBoundS * 1000,
    allAnsweredMs: allAnswered ? Math.max(...times) : null,
    answeredMs: dist(times),
    attempts,
    retries,
    pairsRetried,
    errors: tally(errors),
    missingSample: missing.slice(0, 12).map((m) => `${m.from} -> ${m.to}: ${m.error}`),
    missingBySource: tally(
      missing.map((m) => m.from),
      5,
    ),
    missingByTarget: tally(
      missing.map((m) => m.to),
      5,
    ),
    timeline: thin(timeline),
    establishedAtEnd: dist(after.map((x) => x.byState['established'] ?? 0)),
    events: eventDelta(before, after),
    eventTally: await eventTallyOf(procs, t0, tEnd),
  }
}

/** The pairs that did not answer in the last formation, per transport: process, system, target. */
const lastUnanswered = new Map<Transport, { proc: number; s: number; t: number }[]>()

/** At most this many events per end of a pair in its diagnostics (the first ones, then the last ones). */
const PAIR_EVENTS = 12

/**
 * What the nodes `from` and `to` (mesh nodes, one system each) say about each other: their
 * associations with each other (every incarnation, current last) and the events between `since`
 * and `until` that name the other one (their times in ms after `since`: the start of the phase).
 */
async function pairDiagnostics(from: NodeProc, to: NodeProc, since: number, until: number): Promise<PairDiagnostics> {
  // events name a peer by its address, or by the ip:port of a connection it opened: in a namespace of
  // its own a node is its ip; on loopback only its address tells it
  const naming = (p: NodeProc): string => {
    const hostPort = /@([^/]+)$/.exec(p.address.replace(/\/$/, ''))?.[1] ?? p.address
    const host = hostPort.replace(/:\d+$/, '')
    return host === '127.0.0.1' ? `@${hostPort}` : `${host}:`
  }
  const eventsOf = async (p: NodeProc, other: NodeProc): Promise<string[]> => {
    const r = await p
      .command<{ events: EventRecord[] }>('events', { since, until, remote: naming(other) }, 30_000)
      .catch((e: Error) => ({ events: [{ at: since, name: 'error', remote: '', detail: e.message, count: 1 }] }))
    const text = r.events.map((e) => `+${e.at - since} ms ${e.name}${e.detail ? `: ${e.detail}` : ''}${e.count > 1 ? ` (${e.count})` : ''}`)
    return text.length <= PAIR_EVENTS
      ? text
      : [...text.slice(0, PAIR_EVENTS / 2), `... ${text.length - PAIR_EVENTS} more ...`, ...text.slice(-PAIR_EVENTS / 2)]
  }
  const assoc = (p: NodeProc, other: NodeProc): Promise<unknown[]> =>
    p.command<unknown[]>('associationsWith', { remotes: [other.address] }, 30_000).catch((e: Error) => [e.message])
  return {
    pair: `${from.name} -> ${to.name}`,
    sender: await assoc(from, to),
    receiver: await assoc(to, from),
    senderEvents: await eventsOf(from, to),
    receiverEvents: await eventsOf(to, from),
  }
}

/** The pairs that did not answer, once more each (one resolveOne + ask with the attempt timeout), after `pauseS`. */
async function secondPass(
  ctx: RunContext,
  procs: NodeProc[],
  m: MeshPhase,
  targetsOf: (i: number) => string[],
  pauseS: number,
): Promise<void> {
  const o = ctx.opts
  const todo = lastUnanswered.get(ctx.transport) ?? []
  if (todo.length === 0) return
  ctx.progress.status(`${ctx.transport}: ${todo.length} pairs did not answer; trying them once more in ${pauseS} s`)
  await sleep(pauseS * 1000)
  const before = await statsOf(procs)
  const byProc = new Map<number, [number, number][]>()
  for (const u of todo) byProc.set(u.proc, [...(byProc.get(u.proc) ?? []), [u.s, u.t]])
  // one attempt each: the deadline is one attempt timeout away, retries come too late for it
  const deadlineAt = Date.now() + o.attemptTimeoutS * 1000
  const results = await Promise.all(
    [...byProc].map(([i, only]) =>
      (procs[i] as NodeProc)
        .command<PairResult[]>(
          'mesh',
          { targets: targetsOf(i), deadlineAt, attemptTimeoutMs: o.attemptTimeoutS * 1000, retryDelayMs: o.attemptTimeoutS * 1000, only },
          o.attemptTimeoutS * 1000 + 60_000,
        )
        .catch(() => [] as PairResult[]),
    ),
  )
  const flat = results.flat()
  m.secondPass = {
    afterS: pauseS,
    pairs: todo.length,
    answered: flat.filter((r) => r.ok).length,
    errors: tally(flat.filter((r) => !r.ok).map((r) => normalize(r.error ?? ''))),
    establishedBefore: dist(before.map((x) => x.byState['established'] ?? 0)),
  }
}

/** At most ~40 points of a timeline. */
function thin<T>(points: T[]): T[] {
  if (points.length <= 40) return points
  const step = Math.ceil(points.length / 40)
  return points.filter((_p, i) => i % step === 0 || i === points.length - 1)
}

// ---- phase 2: idle ---------------------------------------------------------------------------------

async function idleWindow(
  ctx: RunContext,
  procs: NodeProc[],
  label: string,
): Promise<{ a: Snapshot; b: Snapshot; seconds: number; tally: Tally[] }> {
  const o = ctx.opts
  const a = await snapshot(ctx, procs, 'start', true)
  const ends = Date.now() + o.idleS * 1000
  ctx.progress.status(`${ctx.transport} ${label}: ${o.idleS} s window`)
  await sleep(ends - Date.now())
  const b = await snapshot(ctx, procs, 'end', true)
  return { a, b, seconds: (b.at - a.at) / 1000, tally: await eventTallyOf(procs, a.at, b.at) }
}

function listenersOf(procs: NodeProc[], addressesOf: (p: NodeProc) => string[]): Map<string, number> {
  const m = new Map<string, number>()
  procs.forEach((p, i) => {
    for (const a of addressesOf(p)) {
      const hp = /@([^/]+)$/.exec(a.replace(/\/$/, ''))?.[1]
      if (hp !== undefined) m.set(hp, i)
    }
  })
  return m
}

async function meshIdle(ctx: RunContext, procs: NodeProc[], label: string, watches?: IdlePhase['watches']): Promise<IdlePhase> {
  const { a, b, seconds, tally: t } = await idleWindow(ctx, procs, label)
  const n = procs.length
  const cpu = procs.map((_p, i) => pct(a.cpu[i], b.cpu[i], seconds))
  const nodesCpu = procs.reduce((s, _p, i) => s + ((b.cpu[i] ?? 0) - (a.cpu[i] ?? 0)), 0)
  const conns = connStats(
    a,
    b,
    procs,
    listenersOf(procs, (p) => [p.address]),
    n,
  )
  let packets: number[] = []
  let packetsNote = ''
  if (ctx.net.mode === 'netns') {
    packets = procs.map((_p, i) => {
      const x = a.dev[i]
      const y = b.dev[i]
      return x && y ? (y.txPackets - x.txPackets) / seconds : Number.NaN
    })
    packetsNote = "eth0 of the node's namespace"
  } else if (a.lo && b.lo) {
    const per = (b.lo.txPackets - a.lo.txPackets) / seconds / n
    packets = procs.map(() => per)
    packetsNote = 'loopback: all packets on lo divided by the nodes (other processes included)'
  }
  const frames = procs.map((_p, i) => ((b.stats[i]?.framesSent ?? 0) - (a.stats[i]?.framesSent ?? 0)) / seconds)
  const bytes = procs.map((_p, i) => ((b.stats[i]?.bytesSent ?? 0) - (a.stats[i]?.bytesSent ?? 0)) / seconds)
  const eld = b.stats.some((s) => s.eld !== undefined)
    ? {
        mean: dist(b.stats.map((s) => s.eld?.mean ?? Number.NaN)),
        p99: dist(b.stats.map((s) => s.eld?.p99 ?? Number.NaN)),
        max: dist(b.stats.map((s) => s.eld?.max ?? Number.NaN)),
      }
    : null
  return {
    windowS: Math.round(seconds * 10) / 10,
    ...(watches !== undefined ? { watches } : {}),
    cpuPct: dist(cpu),
    rssMb: dist(b.rss.map((r) => r ?? Number.NaN)),
    heapUsedMb: dist(b.stats.map((s) => s.heapUsedMb)),
    fds: dist(b.fds),
    conns: conns?.stats ?? null,
    packetsPerSec: dist(packets),
    packetsNote,
    framesPerSec: dist(frames),
    bytesPerSec: dist(bytes),
    gcCount: dist(procs.map((_p, i) => (b.stats[i]?.gcCount ?? 0) - (a.stats[i]?.gcCount ?? 0))),
    gcMs: dist(procs.map((_p, i) => (b.stats[i]?.gcMs ?? 0) - (a.stats[i]?.gcMs ?? 0))),
    established: dist(b.stats.map((s) => s.byState['established'] ?? 0)),
    eldMs: eld,
    machine: machineShare(a, b, nodesCpu),
    events: eventDelta(a.stats, b.stats),
    eventTally: t,
  }
}

async function starIdle(ctx: RunContext, procs: NodeProc[], label: string, watches?: StarIdle['watches']): Promise<StarIdle> {
  const { a, b, seconds, tally: t } = await idleWindow(ctx, procs, label)
  const nodesCpu = procs.reduce((s, _p, i) => s + ((b.cpu[i] ?? 0) - (a.cpu[i] ?? 0)), 0)
  const conns = connStats(a, b, procs, listenersOf(procs, addressesOf), undefined)
  const observer = procs[0] as NodeProc
  const sa = a.stats[0] as NodeStats
  const sb = b.stats[0] as NodeStats
  let packetsSent: number | null = null
  let packetsReceived: number | null = null
  let packetsNote = ''
  if (ctx.net.mode === 'netns' && a.dev[0] && b.dev[0]) {
    packetsSent = (b.dev[0].txPackets - a.dev[0].txPackets) / seconds
    packetsReceived = (b.dev[0].rxPackets - a.dev[0].rxPackets) / seconds
    packetsNote = "eth0 of the observer's namespace"
  } else packetsNote = 'not measured on loopback (every process shares lo)'
  const peerIdx = procs.map((_p, i) => i).slice(1)
  const r1 = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10)
  return {
    windowS: Math.round(seconds * 10) / 10,
    ...(watches !== undefined ? { watches } : {}),
    observer: {
      cpuPct: Number.isFinite(pct(a.cpu[0], b.cpu[0], seconds)) ? Math.round(pct(a.cpu[0], b.cpu[0], seconds) * 100) / 100 : null,
      rssMb: b.rss[0] ?? null,
      heapUsedMb: sb.heapUsedMb,
      fds: b.fds[0] ?? null,
      nofile: nofileLimit(pidOf(observer)) ?? null,
      tcpConnections: conns ? (conns.perNodeCounts[0] ?? 0) : null,
      ...observerConns(a, b),
      associations: sb.associations,
      established: sb.byState['established'] ?? 0,
      framesSentPerSec: r1((sb.framesSent - sa.framesSent) / seconds),
      framesReceivedPerSec: r1((sb.framesReceived - sa.framesReceived) / seconds),
      packetsSentPerSec: r1(packetsSent),
      packetsReceivedPerSec: r1(packetsReceived),
      packetsNote,
      eld: sb.eld ? { mean: sb.eld.mean, p50: sb.eld.p50, p99: sb.eld.p99, max: sb.eld.max } : null,
      gcCount: sb.gcCount - sa.gcCount,
      gcMs: Math.round((sb.gcMs - sa.gcMs) * 10) / 10,
    },
    peers: {
      processes: peerIdx.length,
      cpuPctPerProcess: dist(peerIdx.map((i) => pct(a.cpu[i], b.cpu[i], seconds))),
      rssMbPerProcess: dist(peerIdx.map((i) => b.rss[i] ?? Number.NaN)),
      fdsPerProcess: dist(peerIdx.map((i) => b.fds[i] ?? Number.NaN)),
    },
    machine: machineShare(a, b, nodesCpu),
    events: eventDelta(a.stats, b.stats),
    eventTally: t,
  }
}

/** The observer's connections whose payload grew both ways, one way, or not at all over the window. */
function observerConns(a: Snapshot, b: Snapshot): { bothWays: number | null; oneWay: number | null; silent: number | null } {
  if (b.conns === undefined) return { bothWays: null, oneWay: null, silent: null }
  const mine = b.sockets[0] ?? new Set<number>()
  const before = new Map((a.conns ?? []).map((c) => [c.inode, c]))
  let bothWays = 0
  let oneWay = 0
  let silent = 0
  for (const c of b.conns) {
    if (!mine.has(c.inode)) continue
    const w = before.get(c.inode)
    const sent = c.bytesSent - (w?.bytesSent ?? 0)
    const recv = c.bytesReceived - (w?.bytesReceived ?? 0)
    if (sent > 0 && recv > 0) bothWays++
    else if (sent > 0 || recv > 0) oneWay++
    else silent++
  }
  return { bothWays, oneWay, silent }
}

async function watchAll(procs: NodeProc[]): Promise<{ watches: number; ms: number; unacked: number }> {
  const results = await Promise.all(
    procs.map((p) =>
      p
        .command<{ watches: number; ms: number; unacked: number }>('watchAll', { timeoutMs: 60_000 }, 120_000)
        .catch(() => ({ watches: 0, ms: 0, unacked: -1 })),
    ),
  )
  return {
    watches: results.reduce((s, r) => s + r.watches, 0),
    ms: Math.max(...results.map((r) => r.ms)),
    unacked: results.reduce((s, r) => s + Math.max(0, r.unacked), 0),
  }
}

// ---- phase 3: traffic ------------------------------------------------------------------------------

type SinkReport = Record<string, { count: number; unique: number; duplicates: number; outOfOrder: number }>[]

async function trafficPhase(ctx: RunContext, procs: NodeProc[]): Promise<TrafficPhase> {
  const o = ctx.opts
  const n = procs.length
  const before = await statsOf(procs)
  const countUdpDrops = ctx.net.mode === 'netns' && ctx.transport === 'udp'
  const udpA = countUdpDrops ? procs.map((p) => udpDrops(pidOf(p))) : []
  const cpuA = procs.map((p) => cpuSeconds(pidOf(p)))
  const t0 = Date.now()
  ctx.progress.status(`${ctx.transport} traffic: ${o.rate} msg/s to each peer for ${o.trafficS} s`)
  const results = await Promise.all(
    procs.map((p) =>
      p
        .command<TrafficResult[]>(
          'traffic',
          { ratePerPeer: o.rate, durationMs: o.trafficS * 1000, askIntervalMs: o.askIntervalMs, askTimeoutMs: o.askTimeoutMs },
          o.trafficS * 1000 + o.askTimeoutMs + 120_000,
        )
        .then((r) => r[0] as TrafficResult)
        .catch((err: unknown) => {
          ctx.progress.note(`  ${p.name} did not report its traffic: ${(err as Error).message}`)
          return undefined
        }),
    ),
  )
  const t1 = Date.now()
  const cpuB = procs.map((p) => cpuSeconds(pidOf(p)))
  const cpu = procs.map((_p, i) => pct(cpuA[i], cpuB[i], (t1 - t0) / 1000))
  const sentTotal = results.reduce((s, r) => s + (r?.sent.reduce((x, y) => x + y, 0) ?? 0), 0)
  // drain: until every message sent is counted by a sink, nothing changes for 5 s, or the bound
  const drainStart = Date.now()
  let sinks: SinkReport[] = []
  let last = -1
  let lastChange = Date.now()
  for (;;) {
    sinks = await mapLimit(procs, 16, (p) => p.command<SinkReport>('sinkReport', {}, 30_000).catch(() => [{}] as SinkReport))
    const unique = sinks.reduce((s, r) => s + Object.values(r[0] ?? {}).reduce((x, y) => x + y.unique, 0), 0)
    if (unique !== last) {
      last = unique
      lastChange = Date.now()
    }
    ctx.progress.status(
      `${ctx.transport} traffic: draining, ${unique.toLocaleString('en-US')}/${sentTotal.toLocaleString('en-US')} counted`,
    )
    if (unique >= sentTotal || Date.now() - lastChange > 5000 || Date.now() - drainStart > o.drainS * 1000) break
    await sleep(1000)
  }
  const drainMs = Date.now() - drainStart
  const after = await statsOf(procs)
  let delivered = 0
  let duplicates = 0
  let outOfOrder = 0
  let pairsWithLoss = 0
  const lossSample: string[] = []
  for (let from = 0; from < n; from++) {
    for (let to = 0; to < n; to++) {
      if (from === to) continue
      const sent = results[from]?.sent[to] ?? 0
      const got = sinks[to]?.[0]?.[String(from)]
      const unique = got?.unique ?? 0
      delivered += unique
      duplicates += got?.duplicates ?? 0
      outOfOrder += got?.outOfOrder ?? 0
      if (unique < sent) {
        pairsWithLoss++
        if (lossSample.length < 12)
          lossSample.push(
            `${procs[from]?.name} -> ${procs[to]?.name}: ${unique}/${sent}${results[from] === undefined ? ' (sender did not report)' : ''}`,
          )
      }
    }
  }
  const lossyPairs: TrafficPhase['lossyPairs'] = []
  for (let from = 0; from < n && lossyPairs.length < 4; from++)
    for (let to = 0; to < n && lossyPairs.length < 4; to++) {
      if (from === to) continue
      const sent = results[from]?.sent[to] ?? 0
      if ((sinks[to]?.[0]?.[String(from)]?.unique ?? 0) >= sent) continue
      lossyPairs.push(await pairDiagnostics(procs[from] as NodeProc, procs[to] as NodeProc, t0, Date.now()))
    }
  const lat = results.flatMap((r) => r?.latencies ?? []).sort((a, b) => a - b)
  const q = (x: number): number => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(x * lat.length) - 1))] as number
  const askErrors = new Map<string, number>()
  for (const r of results)
    for (const [k, v] of Object.entries(r?.askErrors ?? {})) askErrors.set(normalize(k), (askErrors.get(normalize(k)) ?? 0) + v)
  const udpB = countUdpDrops ? procs.map((p) => udpDrops(pidOf(p))) : []
  const udpRcvbufErrors = countUdpDrops
    ? udpB.reduce((sum, b, i) => sum + ((b?.rcvbufErrors ?? 0) - (udpA[i]?.rcvbufErrors ?? 0)), 0)
    : null
  // what the receivers reported lost in transit, per sender, against what their sinks did not count
  const index = new Map(procs.map((p, i) => [/@([^/]+)$/.exec(p.address.replace(/\/$/, ''))?.[1] ?? p.address, i]))
  const reportedLost = new Map<string, number>()
  await mapLimit(procs, 16, async (p, to) => {
    const r = await p.command<{ events: EventRecord[] }>('events', { since: t0 }, 30_000).catch(() => ({ events: [] as EventRecord[] }))
    for (const e of r.events) {
      if (e.name !== 'dropped' || !e.detail.startsWith('lost-in-transit')) continue
      const from = index.get(/@([^/\s]+)/.exec(e.remote)?.[1] ?? '')
      if (from !== undefined) reportedLost.set(`${from}:${to}`, (reportedLost.get(`${from}:${to}`) ?? 0) + e.count)
    }
  })
  let reported = 0
  let overreported = 0
  const over: [number, number][] = []
  for (const [k, count] of reportedLost) {
    const [from, to] = k.split(':').map(Number) as [number, number]
    reported += count
    const lostHere = Math.max(0, (results[from]?.sent[to] ?? 0) - (sinks[to]?.[0]?.[String(from)]?.unique ?? 0))
    if (count > lostHere) {
      overreported += count - lostHere
      over.push([from, to])
    }
  }
  const overSample: PairDiagnostics[] = []
  for (const [from, to] of over.slice(0, 4))
    overSample.push(await pairDiagnostics(procs[from] as NodeProc, procs[to] as NodeProc, t0, Date.now()))
  const events = eventDelta(before, after)
  const tallyAll = await eventTallyOf(procs, t0, Date.now(), 12)
  const ticks = Math.max(1, Math.floor(o.trafficS * o.rate))
  return {
    ratePerPeer: o.rate,
    durationS: o.trafficS,
    expected: n * (n - 1) * ticks,
    sent: sentTotal,
    delivered,
    duplicates,
    outOfOrder,
    lost: sentTotal - delivered,
    pairs: n * (n - 1),
    pairsWithLoss,
    lossSample,
    drainMs,
    senderLateMaxMs: dist(results.map((r) => r?.lateMaxMs ?? Number.NaN)),
    asks: lat.length + results.reduce((s, r) => s + (r?.askFailures ?? 0), 0),
    askFailures: results.reduce((s, r) => s + (r?.askFailures ?? 0), 0),
    askErrors: [...askErrors].map(([text, count]) => ({ text, count })).sort((a, b) => b.count - a.count),
    latencyMs: lat.length > 0 ? { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: lat[lat.length - 1] as number } : null,
    droppedEvents: events['dropped'] ?? 0,
    droppedMessages: events['droppedMessages'] ?? 0,
    droppedByKind: tallyAll.filter((t) => t.text.startsWith('dropped')),
    deadLetters: after.reduce((sum, x, i) => sum + x.deadLetters - (before[i]?.deadLetters ?? 0), 0),
    lossyPairs,
    lostReports: { reported, pairsReporting: reportedLost.size, pairsOverreported: over.length, overreported, sample: overSample },
    udpRcvbufErrors,
    events,
    eventTally: tallyAll,
    cpuPct: dist(cpu),
  }
}

// ---- phase 4: kill one node ------------------------------------------------------------------------

async function killPhase(ctx: RunContext, procs: NodeProc[]): Promise<KillPhase> {
  const o = ctx.opts
  const victimIdx = Math.min(o.victim, procs.length - 1)
  const victim = procs[victimIdx] as NodeProc
  const watchers = procs.filter((p) => p !== victim)
  const got = new Map<NodeProc, number>()
  const victimHostPort = /@([^/]+)$/.exec(victim.address)?.[1] ?? victim.address
  const before = await statsOf(watchers)
  ctx.progress.status(`${ctx.transport} kill: SIGKILL ${victim.name}`)
  const t0 = Date.now()
  victim.signal('SIGKILL')
  // the nodes report each Terminated at once (faultCluster keeps it in the process's log)
  await Promise.all(
    watchers.map(async (w) => {
      const e = await w.waitFor(
        (x) => x.type === 'terminated' && x.at >= t0 && x.path.includes(`@${victimHostPort}/`),
        o.terminatedWaitS * 1000,
      )
      if (e !== undefined) got.set(w, e.at)
    }),
  )
  const waitedMs = Date.now() - t0
  await sleep(500)
  const after = await statsOf(watchers)
  const times = [...got.values()].map((at) => at - t0)
  return {
    victim: victim.name,
    victimAddress: victim.address,
    watchers: watchers.length,
    terminated: got.size,
    terminatedMs: dist(times),
    waitedMs,
    missing: watchers
      .filter((w) => !got.has(w))
      .map((w) => w.name)
      .slice(0, 20),
    events: eventDelta(before, after),
    eventTally: await eventTallyOf(watchers, t0, Date.now()),
  }
}

// ---- a whole run per transport ---------------------------------------------------------------------

export async function runMesh(ctx: RunContext, result: TransportResult): Promise<NodeProc[]> {
  const o = ctx.opts
  const placed: Placed[] = ctx.net.slots.map((slot) => ({
    slot,
    name: `N${slot.index}`,
    systems: [{ name: `N${slot.index}`, port: slot.port }],
  }))
  const t0 = Date.now()
  const procs = await startProcesses(ctx, placed, () => o.eld)
  result.startMs = Date.now() - t0
  recordNofile(result, procs)
  ctx.progress.note(`  ${ctx.transport}: ${procs.length} node processes listening after ${(result.startMs / 1000).toFixed(1)} s`)
  ctx.progress.complete()
  const addresses = procs.map((p) => p.address)
  const has = (p: Phase): boolean => o.phases.includes(p)

  ctx.progress.step(`${ctx.transport} mesh formation (${procs.length} nodes, bound ${o.meshBoundS} s)`)
  const formationStart = Date.now()
  result.mesh = await meshPhase(
    ctx,
    procs,
    () => addresses,
    (i, r) => ({ from: procs[i]?.name ?? `#${i}`, to: procs[r.t]?.name ?? `#${r.t}` }),
  )
  ctx.progress.note(
    `  ${ctx.transport} mesh: ${result.mesh.answered}/${result.mesh.pairs} pairs answered${result.mesh.allAnsweredMs !== null ? ` in ${(result.mesh.allAnsweredMs / 1000).toFixed(1)} s` : ` (${result.mesh.missing} missing after ${o.meshBoundS} s)`}, ${result.mesh.retries} retries`,
  )
  if (result.mesh.missing > 0) {
    const missing = (lastUnanswered.get(ctx.transport) ?? []).slice(0, 4)
    result.mesh.missingPairs = []
    for (const u of missing)
      result.mesh.missingPairs.push(await pairDiagnostics(procs[u.proc] as NodeProc, procs[u.t] as NodeProc, formationStart, Date.now()))
    await secondPass(ctx, procs, result.mesh, () => addresses, o.warmupS)
    const sp = result.mesh.secondPass
    if (sp)
      ctx.progress.note(`  ${ctx.transport} second pass ${sp.afterS} s later: ${sp.answered}/${sp.pairs} of the missing pairs answered`)
  }
  ctx.progress.complete()

  if (has('idle')) {
    ctx.progress.step(`${ctx.transport} idle, nothing watched (${o.warmupS} s pause, then ${o.idleS} s)`)
    await sleep(o.warmupS * 1000)
    result.idle = await meshIdle(ctx, procs, 'idle')
    ctx.progress.note(`  ${ctx.transport} idle: ${idleLine(result.idle)}`)
    ctx.progress.complete()
  }
  if (has('watched') || has('kill')) {
    ctx.progress.step(`${ctx.transport} idle, every node watching every other (${o.idleS} s)`)
    const w = await watchAll(procs)
    ctx.progress.note(
      `  ${ctx.transport}: ${w.watches} watches acknowledged in ${(w.ms / 1000).toFixed(1)} s${w.unacked > 0 ? ` (${w.unacked} still unacknowledged)` : ''}`,
    )
    if (has('watched')) {
      await sleep(o.settleS * 1000)
      result.watched = await meshIdle(ctx, procs, 'idle watched', w)
      ctx.progress.note(`  ${ctx.transport} idle watched: ${idleLine(result.watched)}`)
    }
    ctx.progress.complete()
  }
  if (has('traffic')) {
    ctx.progress.step(`${ctx.transport} traffic (${o.rate} msg/s per pair, ${o.trafficS} s)`)
    result.traffic = await trafficPhase(ctx, procs)
    const t = result.traffic
    ctx.progress.note(
      `  ${ctx.transport} traffic: ${t.delivered}/${t.sent} delivered, ${t.lost} lost, asks p50 ${t.latencyMs?.p50 ?? '-'} ms p99 ${t.latencyMs?.p99 ?? '-'} ms, dropped events ${t.droppedEvents}`,
    )
    ctx.progress.complete()
  }
  if (has('kill')) {
    ctx.progress.step(`${ctx.transport} SIGKILL one node`)
    await sleep(o.settleS * 1000)
    result.kill = await killPhase(ctx, procs)
    const k = result.kill
    ctx.progress.note(
      `  ${ctx.transport} kill: Terminated ${k.terminated}/${k.watchers}, p50 ${k.terminatedMs?.p50 ?? '-'} ms, max ${k.terminatedMs?.max ?? '-'} ms`,
    )
    ctx.progress.complete()
  }
  return procs
}

export async function runStar(ctx: RunContext, result: TransportResult): Promise<NodeProc[]> {
  const o = ctx.opts
  const peers = o.star as number
  const procsN = Math.max(1, Math.min(o.starProcs, peers))
  const per = Math.ceil(peers / procsN)
  const slots = ctx.net.slots
  const placed: Placed[] = [{ slot: slots[0] as NodeSlot, name: 'O', systems: [{ name: 'O', port: (slots[0] as NodeSlot).port }] }]
  let made = 0
  for (let p = 0; p < procsN; p++) {
    const slot = slots[p + 1] as NodeSlot
    const systems: { name: string; port: number }[] = []
    for (let k = 0; k < per && made < peers; k++, made++) {
      const port = ctx.net.mode === 'netns' ? NS_PORT + k : await freePort(ctx.transport === 'udp')
      systems.push({ name: `P${p}-${k}`, port })
    }
    placed.push({ slot, name: `P${p}`, systems })
  }
  const t0 = Date.now()
  const procs = await startProcesses(ctx, placed, (p) => p.name === 'O' || o.eld)
  result.startMs = Date.now() - t0
  recordNofile(result, procs)
  ctx.progress.note(
    `  ${ctx.transport}: observer and ${peers} peers in ${procsN} processes listening after ${(result.startMs / 1000).toFixed(1)} s`,
  )
  ctx.progress.complete()
  const observer = procs[0] as NodeProc
  const peerAddresses: string[] = []
  for (const p of procs.slice(1)) peerAddresses.push(...addressesOf(p))
  const peerName = (t: number): string => /:\/\/([^@]+)@/.exec(peerAddresses[t] ?? '')?.[1] ?? `#${t}`

  ctx.progress.step(`${ctx.transport} star formation (observer and ${peers} peers, bound ${o.meshBoundS} s)`)
  result.mesh = await meshPhase(
    ctx,
    procs,
    (i) => (i === 0 ? peerAddresses : [observer.address]),
    (i, r) => (i === 0 ? { from: 'O', to: peerName(r.t) } : { from: placed[i]?.systems[r.s]?.name ?? `P${i - 1}-${r.s}`, to: 'O' }),
  )
  ctx.progress.note(
    `  ${ctx.transport} star: ${result.mesh.answered}/${result.mesh.pairs} pairs answered${result.mesh.allAnsweredMs !== null ? ` in ${(result.mesh.allAnsweredMs / 1000).toFixed(1)} s` : ` (${result.mesh.missing} missing)`}`,
  )
  if (result.mesh.missing > 0) {
    await secondPass(ctx, procs, result.mesh, (i) => (i === 0 ? peerAddresses : [observer.address]), o.warmupS)
    const sp = result.mesh.secondPass
    if (sp)
      ctx.progress.note(`  ${ctx.transport} second pass ${sp.afterS} s later: ${sp.answered}/${sp.pairs} of the missing pairs answered`)
  }
  ctx.progress.complete()
  if (o.phases.includes('idle')) {
    ctx.progress.step(`${ctx.transport} observer idle, nothing watched (${o.warmupS} s pause, then ${o.idleS} s)`)
    await sleep(o.warmupS * 1000)
    result.starIdle = await starIdle(ctx, procs, 'star idle')
    ctx.progress.note(`  ${ctx.transport} observer idle: ${starLine(result.starIdle)}`)
    ctx.progress.complete()
  }
  if (o.phases.includes('watched')) {
    ctx.progress.step(`${ctx.transport} observer idle, watching every peer (${o.idleS} s)`)
    const w = await watchAll(procs)
    await sleep(o.settleS * 1000)
    result.starWatched = await starIdle(ctx, procs, 'star watched', w)
    ctx.progress.note(`  ${ctx.transport} observer watching: ${starLine(result.starWatched)}`)
    ctx.progress.complete()
  }
  return procs
}

/** Every address a process listens at (its ready message). */
function addressesOf(p: NodeProc): string[] {
  const a = (p.ready as { addresses?: unknown } | undefined)?.addresses
  return Array.isArray(a) ? (a as string[]) : [p.address]
}

function recordNofile(result: TransportResult, procs: NodeProc[]): void {
  const limits = procs.map((p) => nofileLimit(pidOf(p))).filter((x): x is number => x !== undefined)
  result.nofile = {
    set: result.nofile.set,
    min: limits.length ? Math.min(...limits) : null,
    max: limits.length ? Math.max(...limits) : null,
  }
}

export function idleLine(p: IdlePhase): string {
  const f = (d: Dist | null, digits = 2): string => (d === null ? '-' : `${d.mean.toFixed(digits)} (max ${d.max.toFixed(digits)})`)
  return `CPU per node ${f(p.cpuPct)} %, RSS ${f(p.rssMb, 0)} MiB, fds ${f(p.fds, 0)}, TCP per node ${f(p.conns?.perNode ?? null, 0)}, per pair max ${p.conns?.perPairMax ?? '-'}, packets/s ${f(p.packetsPerSec, 1)}, frames/s ${f(p.framesPerSec, 1)}; machine busy ${p.machine.busyPct}% (nodes ${p.machine.nodesPct}%)`
}

export function starLine(p: StarIdle): string {
  const o = p.observer
  return `observer CPU ${o.cpuPct ?? '-'} %, fds ${o.fds ?? '-'}, TCP ${o.tcpConnections ?? '-'}, frames/s sent ${o.framesSentPerSec ?? '-'}, packets/s sent ${o.packetsSentPerSec ?? '-'}, event-loop delay max ${o.eld?.max ?? '-'} ms p99 ${o.eld?.p99 ?? '-'} ms; machine busy ${p.machine.busyPct}%`
}
