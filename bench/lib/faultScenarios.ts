/**
 * The scenarios of the faults benchmark, each on a fresh cluster whose nodes all watch
 * /user/echo on every other node: SIGKILL, SIGSTOP/SIGCONT, a network partition of one node, and
 * a restart on the same host:port. Every figure is what the nodes reported (events and
 * Terminated with Date.now() stamps, results of commands they ran); nothing is assumed: what did
 * not happen within the scenario's window is reported as missing.
 */
import { PhiAccrualFailureDetector } from '@helios/actors'
import { Cluster, type EventEntry, type LogEntry, type NodeProc, type TerminatedEntry } from './faultCluster.js'
import type { FaultNet, NodeSlot } from './faultNet.js'
import type { FaultNodeConfig } from './faultNode.js'
import type { Progress } from './progress.js'

export type Transport = 'tcp' | 'tls' | 'udp'
export type ScenarioName = 'kill' | 'stop' | 'partition' | 'restart'
export const SCENARIOS: readonly ScenarioName[] = ['kill', 'stop', 'partition', 'restart']

export interface FaultsOptions {
  nodes: number
  transports: Transport[]
  scenarios: ScenarioName[]
  quick: boolean
  json: boolean
  updateResults: boolean
  outDir: string
  netns: boolean
  heartbeatIntervalMs: number
  failureDetector: FaultNodeConfig['failureDetector']
  /** SIGSTOP lengths. */
  stopMs: number[]
  /** Partition lengths. */
  partitionMs: number[]
  /** After SIGCONT, how long before the fresh resolveOne + ask in both directions. */
  settleMs: number
  /** After a heal, how long fresh resolveOne + ask are retried (every 500 ms). */
  recoveryMs: number
  /** How long watchers are given to get Terminated after a kill. */
  terminatedWaitMs: number
  help: boolean
}

/** A row of a scenario's table: a count and, when there are, times in ms. */
export interface MetricRow {
  metric: string
  /** e.g. "7/7" */
  count?: string
  /** Times (ms) whose min/p50/max the table shows. */
  values?: number[]
  note?: string
}

export interface ScenarioResult {
  scenario: ScenarioName
  variant: string
  transport: Transport
  nodes: number
  victim?: string
  skipped?: string
  error?: string
  mesh?: { ms: number; complete: boolean; failures: string[] }
  rows: MetricRow[]
  /** Headline figures for the --json line (null: did not happen). */
  figures: Record<string, number | null>
  /** Everything the nodes reported during the scenario (dropped events summarized), per node. */
  events: Record<string, unknown[]>
  durationMs: number
}

export interface ScenarioContext {
  readonly transport: Transport
  readonly net: FaultNet
  readonly opts: FaultsOptions
  readonly tls?: { key: string; cert: string; ca: string }
  readonly progress: Progress
  readonly output: NodeJS.WritableStream
}

/** The node that suffers the fault; slot 0 is the observer of the streams. */
const VICTIM = 1
const OBSERVER = 0
const WATCH_TARGETS = 10
const STREAM_INTERVAL_MS = 20

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))

/** When phi crosses the threshold for a node that went silent, from the detector's own formula. */
export function detectionBound(
  heartbeatIntervalMs: number,
  fd: FaultsOptions['failureDetector'],
): { silenceMs: number; loMs: number; hiMs: number } {
  // Regular heartbeats: the mean interval is the heartbeat interval, the deviation its floor.
  const mean = heartbeatIntervalMs + fd.acceptableHeartbeatPauseMs
  const std = fd.minStdDeviationMs
  let t = 0
  while (PhiAccrualFailureDetector.phiOf(t, mean, std) < fd.threshold && t < 3_600_000) t++
  // The last heartbeat reply came up to one interval before the failure; phi is read once per tick.
  return { silenceMs: t, loMs: Math.max(0, t - heartbeatIntervalMs), hiMs: t + heartbeatIntervalMs }
}

// ---- helpers over the logs ---------------------------------------------------------------------

/** True when an event's `remote` (an address, or ip:port) is the node in `slot`. */
function about(e: EventEntry, slot: NodeSlot): boolean {
  const r = String(e.event['remote'] ?? '')
  return r.includes(`@${slot.host}:${slot.port}`) || r === `${slot.host}:${slot.port}`
}

function firstEvent(n: NodeProc, since: number, name: string, slot?: NodeSlot): EventEntry | undefined {
  return n.log.find(
    (e): e is EventEntry => e.type === 'event' && e.at >= since && e.name === name && (slot === undefined || about(e, slot)),
  )
}

function terminatedOf(n: NodeProc, since: number, pathPart: string): TerminatedEntry | undefined {
  return n.log.find((e): e is TerminatedEntry => e.type === 'terminated' && e.at >= since && e.path.includes(pathPart))
}

const echoPart = (slot: NodeSlot): string => `@${slot.host}:${slot.port}/user/echo`

/** A 'quarantined' event that says the peer quarantined this node (its `byPeer` field), not the reverse. */
const QUARANTINED_BY_PEER = 'quarantined by the peer'
const kindOf = (e: EventEntry): string => (e.name === 'quarantined' && e.event['byPeer'] === true ? QUARANTINED_BY_PEER : e.name)

/** A row of times (ms after `t0`) of one kind of entry at each of `nodes`. */
function timesRow(metric: string, nodes: NodeProc[], t0: number, find: (n: NodeProc) => LogEntry | undefined, note?: string): MetricRow {
  const values: number[] = []
  for (const n of nodes) {
    const e = find(n)
    if (e !== undefined) values.push(e.at - t0)
  }
  return { metric, count: `${values.length}/${nodes.length}`, values, ...(note !== undefined ? { note } : {}) }
}

function p50(values: number[] | undefined): number | null {
  if (values === undefined || values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)] as number
}
const maxOf = (values: number[] | undefined): number | null => (values === undefined || values.length === 0 ? null : Math.max(...values))

/** A reason without what differs from peer to peer (addresses, uids, phi values), so that equal reasons group. */
function normalize(text: string): string {
  return text
    .replace(/helios\.(tcp|tls|udp):\/\/[A-Za-z0-9_-]+@[0-9.]+:\d+/g, '<node>')
    .replace(/\buid \d+/g, 'uid <n>')
    .replace(/\bphi (\d+(\.\d+)?|Infinity)/g, (_m, v: string) => (v === 'Infinity' ? 'phi Infinity' : 'phi <x>'))
}

/** Distinct texts with their counts, most frequent first: "reason A (5); reason B (2)". */
function tally(texts: string[], limit = 4): string {
  const m = new Map<string, number>()
  for (const t of texts.map(normalize)) m.set(t, (m.get(t) ?? 0) + 1)
  const sorted = [...m].sort((a, b) => b[1] - a[1])
  const shown = sorted.slice(0, limit).map(([t, c]) => `${t} (${c})`)
  if (sorted.length > limit) shown.push(`${sorted.length - limit} more`)
  return shown.join('; ')
}

/** Counts of the events of `n` since `since` by name: "disassociated 7, quarantined 7". */
function eventCounts(n: NodeProc[], since: number, until = Infinity): string {
  const m = new Map<string, number>()
  for (const node of n)
    for (const e of node.log)
      if (e.at >= since && e.at <= until) {
        const k = e.type === 'event' ? e.name : 'Terminated'
        m.set(k, (m.get(k) ?? 0) + 1)
      }
  return [...m].map(([k, c]) => `${k} ${c}`).join(', ') || 'none'
}

/** The entries of every node since `since`, 'dropped' events folded into counts per remote and reason. */
function eventsSince(nodes: NodeProc[], since: number): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const n of nodes) {
    const list: unknown[] = []
    const drops = new Map<
      string,
      {
        name: 'dropped (summary)'
        remote: string
        reason: string
        events: number
        messages: number
        firstAt: number
        lastAt: number
        first: unknown
      }
    >()
    for (const e of n.log) {
      if (e.at < since) continue
      if (e.type === 'event' && e.name === 'dropped') {
        const remote = String(e.event['remote'] ?? '')
        const reason = String(e.event['reason'] ?? '')
        const messages = typeof e.event['count'] === 'number' ? e.event['count'] : 1
        const k = `${remote}|${reason}`
        const d = drops.get(k)
        if (d === undefined)
          drops.set(k, { name: 'dropped (summary)', remote, reason, events: 1, messages, firstAt: e.at, lastAt: e.at, first: e })
        else {
          d.events++
          d.messages += messages
          d.lastAt = e.at
        }
        continue
      }
      list.push(e)
    }
    list.push(...drops.values())
    out[`${n.name} uid ${n.uid}`] = foldRepeats(list)
  }
  return out
}

/**
 * Repeats of one event (same name, remote and reason, uids and phi aside) beyond the first two are
 * folded into one entry with their count and first and last time: a refused peer retries its
 * handshake hundreds of times.
 */
export function foldRepeats(list: unknown[]): unknown[] {
  const seen = new Map<string, number>()
  const folded = new Map<string, { name: string; remote: string; reason: string; count: number; firstAt: number; lastAt: number }>()
  const kept: unknown[] = []
  for (const item of list) {
    const e = item as Partial<EventEntry>
    if (e.type !== 'event' || e.event === undefined || e.name === undefined || e.at === undefined) {
      kept.push(item)
      continue
    }
    const remote = String(e.event['remote'] ?? '')
    const reason = String(e.event['reason'] ?? '')
    const key = `${e.name}|${remote}|${normalize(reason)}|${String(e.event['inbound'] ?? '')}`
    const n = (seen.get(key) ?? 0) + 1
    seen.set(key, n)
    if (n <= 2) {
      kept.push(item)
      continue
    }
    const f = folded.get(key)
    if (f === undefined)
      folded.set(key, { name: `${e.name} (repeats)`, remote, reason: normalize(reason), count: 1, firstAt: e.at, lastAt: e.at })
    else {
      f.count++
      f.lastAt = e.at
    }
  }
  return [...kept, ...folded.values()]
}

interface ProbeResult {
  ok: boolean
  resolveMs?: number
  totalMs: number
  at: number
  phase?: string
  error?: string
}

/** A fresh resolveOne + ask that `from` runs itself (never fails: a failure is a result). */
function probe(from: NodeProc, path: string, resolveTimeoutMs: number, askTimeoutMs: number): Promise<ProbeResult> {
  return from
    .command<ProbeResult>('probe', { path, resolveTimeoutMs, askTimeoutMs }, resolveTimeoutMs + askTimeoutMs + 10_000)
    .catch((err: unknown) => ({ ok: false, totalMs: 0, at: Date.now(), phase: 'command', error: (err as Error).message }))
}

/** One fresh resolveOne + ask per pair, both directions between `v` and every other node. */
async function probeBothWays(
  v: NodeProc,
  others: NodeProc[],
  resolveTimeoutMs: number,
  askTimeoutMs: number,
): Promise<{ fromV: ProbeResult[]; toV: ProbeResult[] }> {
  const [fromV, toV] = await Promise.all([
    Promise.all(others.map((o) => probe(v, `${o.address}/user/echo`, resolveTimeoutMs, askTimeoutMs))),
    Promise.all(others.map((o) => probe(o, `${v.address}/user/echo`, resolveTimeoutMs, askTimeoutMs))),
  ])
  return { fromV, toV }
}

function probeRow(metric: string, results: ProbeResult[], values?: number[]): MetricRow {
  const ok = results.filter((r) => r.ok).length
  const failed = results.filter((r) => !r.ok)
  const errors = failed.map((r) => `${r.phase}: ${r.error}`)
  const after = failed.map((r) => r.totalMs)
  const note = failed.length === 0 ? undefined : `${tally(errors, 2)}; failed after ${Math.min(...after)}-${Math.max(...after)} ms`
  return {
    metric,
    count: `${ok}/${results.length} ok`,
    ...(values !== undefined ? { values } : {}),
    ...(note !== undefined ? { note } : {}),
  }
}

/**
 * Polls a fresh resolveOne + ask from `from` to `path`: a new attempt every 500 ms (attempts may
 * overlap) until one succeeds or `windowMs` passed. Resolves with the ms from `t0` to the first
 * success, or null, and the last error.
 */
async function pollRecovery(
  from: NodeProc,
  path: string,
  t0: number,
  windowMs: number,
): Promise<{ ms: number | null; attempts: number; lastError?: string }> {
  let done = false
  let first: number | null = null
  let lastError: string | undefined
  let attempts = 0
  const inflight: Promise<void>[] = []
  const timeout = 2_000
  while (!done && Date.now() - t0 < windowMs) {
    attempts++
    inflight.push(
      probe(from, path, timeout, timeout).then((r) => {
        if (r.ok) {
          if (first === null || r.at - t0 < first) first = r.at - t0
          done = true
        } else lastError = `${r.phase}: ${r.error}`
      }),
    )
    await sleep(500)
  }
  await Promise.all(inflight)
  return { ms: first, attempts, ...(lastError !== undefined && first === null ? { lastError } : {}) }
}

// ---- the cluster of a scenario -------------------------------------------------------------------

async function freshCluster(
  ctx: ScenarioContext,
): Promise<{ cluster: Cluster; mesh: { ms: number; complete: boolean; failures: string[] } }> {
  const cluster = new Cluster({
    transport: ctx.transport,
    net: ctx.net,
    heartbeatIntervalMs: ctx.opts.heartbeatIntervalMs,
    failureDetector: ctx.opts.failureDetector,
    ...(ctx.tls !== undefined ? { tls: ctx.tls } : {}),
    watchTargets: WATCH_TARGETS,
    output: ctx.output,
  })
  try {
    await cluster.start()
    const mesh = await cluster.fullMesh()
    if (!mesh.complete)
      ctx.progress.note(
        `  warning: the mesh of ${ctx.transport} is not complete after ${mesh.ms} ms: ${mesh.failures.slice(0, 3).join('; ')}`,
      )
    // a few heartbeats, so that every failure detector has a history
    await sleep(Math.max(1000, 5 * ctx.opts.heartbeatIntervalMs))
    return { cluster, mesh }
  } catch (err) {
    await cluster.stop()
    throw err
  }
}

type Body = (c: Cluster, r: ScenarioResult) => Promise<void>

async function withCluster(ctx: ScenarioContext, scenario: ScenarioName, variant: string, body: Body): Promise<ScenarioResult> {
  const started = Date.now()
  const r: ScenarioResult = {
    scenario,
    variant,
    transport: ctx.transport,
    nodes: ctx.net.slots.length,
    rows: [],
    figures: {},
    events: {},
    durationMs: 0,
  }
  let cluster: Cluster | undefined
  try {
    const fresh = await freshCluster(ctx)
    cluster = fresh.cluster
    r.mesh = fresh.mesh
    r.victim = (cluster.nodes[VICTIM] as NodeProc).address
    const since = Date.now()
    await body(cluster, r)
    // a node that ended by itself (not killed by the scenario) is a finding of its own
    for (const n of collectAll(cluster)) {
      if (n.exitedAt !== undefined && n.exitReason !== 'signal SIGKILL') {
        const said = n.outputTail.trim().split('\n').slice(-3).join(' | ')
        r.rows.push({
          metric: `${n.name} (uid ${n.uid}) exited by itself`,
          note: `${n.exitReason}, ${n.exitedAt - since} ms after the scenario started${said !== '' ? `; last output: ${said}` : ''}`,
        })
      }
    }
    r.events = eventsSince(collectAll(cluster), since)
  } catch (err) {
    r.error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    ctx.progress.note(`  ${ctx.transport} ${variant} failed: ${r.error.split('\n')[0]}`)
  } finally {
    if (cluster !== undefined) await cluster.stop()
    // a node partitioned when something threw must not stay cut off for the next scenario
    if (scenario === 'partition' && ctx.net.mode === 'netns') {
      try {
        ctx.net.heal(ctx.net.slots[VICTIM] as NodeSlot)
      } catch {
        /* up already */
      }
    }
  }
  r.durationMs = Date.now() - started
  return r
}

/** The current incarnations plus the victim's earlier ones (their logs count too). */
const incarnations = new WeakMap<Cluster, NodeProc[]>()
function collectAll(c: Cluster): NodeProc[] {
  return [...(incarnations.get(c) ?? []), ...c.nodes]
}

// ---- 1. SIGKILL ---------------------------------------------------------------------------------

export function runKill(ctx: ScenarioContext): Promise<ScenarioResult> {
  return withCluster(ctx, 'kill', 'SIGKILL', async (c, r) => {
    const v = c.nodes[VICTIM] as NodeProc
    const others = c.nodes.filter((n) => n !== v)
    const t0 = Date.now()
    await v.kill()
    await Promise.all(
      others.map((n) =>
        n.waitFor((e) => e.type === 'terminated' && e.at >= t0 && e.path.includes(echoPart(v.slot)), ctx.opts.terminatedWaitMs),
      ),
    )
    // the events that come with it, if they have not yet
    await Promise.all(
      others.map((n) => n.waitFor((e) => e.type === 'event' && e.name === 'quarantined' && e.at >= t0 && about(e, v.slot), 1000)),
    )
    const term = timesRow('Terminated at watchers (ms after SIGKILL)', others, t0, (n) => terminatedOf(n, t0, echoPart(v.slot)))
    const terminated = others.map((n) => terminatedOf(n, t0, echoPart(v.slot))).filter((e) => e !== undefined)
    term.note =
      terminated.length > 0
        ? `addressTerminated: ${tally(terminated.map((e) => String(e.addressTerminated)))}`
        : `none within ${ctx.opts.terminatedWaitMs} ms`
    r.rows.push(
      term,
      timesRow('disassociated event (first)', others, t0, (n) => firstEvent(n, t0, 'disassociated', v.slot)),
      timesRow('unreachable event', others, t0, (n) => firstEvent(n, t0, 'unreachable', v.slot)),
      timesRow(
        'quarantined event',
        others,
        t0,
        (n) => firstEvent(n, t0, 'quarantined', v.slot),
        tally(
          others
            .map((n) => firstEvent(n, t0, 'quarantined', v.slot))
            .filter((e) => e !== undefined)
            .map((e) => String(e.event['reason'])),
        ),
      ),
      { metric: 'all events at the others', note: eventCounts(others, t0) },
    )
    r.figures = { terminatedP50Ms: p50(term.values), terminatedMaxMs: maxOf(term.values), terminatedCount: term.values?.length ?? 0 }
  })
}

// ---- 2. SIGSTOP / SIGCONT -----------------------------------------------------------------------

export function runStop(ctx: ScenarioContext, stopMs: number): Promise<ScenarioResult> {
  return withCluster(ctx, 'stop', `SIGSTOP ${stopMs / 1000} s`, async (c, r) => {
    const v = c.nodes[VICTIM] as NodeProc
    const others = c.nodes.filter((n) => n !== v)
    const t0 = Date.now()
    v.signal('SIGSTOP')
    await sleep(stopMs)
    const tCont = Date.now()
    v.signal('SIGCONT')
    await sleep(ctx.opts.settleMs)
    const tProbe = Date.now()
    const probes = await probeBothWays(v, others, 5000, 5000)

    const term = timesRow('Terminated at watchers (ms after SIGSTOP)', others, t0, (n) => terminatedOf(n, t0, echoPart(v.slot)))
    const resumed: MetricRow[] = []
    const vEvents = v.log.filter((e): e is EventEntry => e.type === 'event' && e.at >= tCont && e.at < tProbe)
    for (const name of [...new Set(vEvents.map(kindOf))]) {
      const es = vEvents.filter((e) => kindOf(e) === name)
      const peers = new Set(es.map((e) => String(e.event['remote'] ?? '')))
      const reasons = es
        .map((e) => e.event['reason'])
        .filter((x) => x !== undefined)
        .map(String)
      resumed.push({
        metric: `stopped node after SIGCONT: ${name} (ms after SIGCONT)`,
        count: `${es.length} (${peers.size} peers)`,
        values: [...peers].map((p) => (es.find((e) => String(e.event['remote'] ?? '') === p) as EventEntry).at - tCont),
        ...(reasons.length > 0 ? { note: tally(reasons, 2) } : {}),
      })
    }
    if (resumed.length === 0)
      resumed.push({ metric: 'stopped node after SIGCONT: events', count: '0', note: `none within ${ctx.opts.settleMs} ms` })
    const vTerm = v.log.filter((e): e is TerminatedEntry => e.type === 'terminated' && e.at >= tCont)
    r.rows.push(
      term,
      timesRow(
        'quarantined event at the others (ms after SIGSTOP)',
        others,
        t0,
        (n) => firstEvent(n, t0, 'quarantined', v.slot),
        tally(
          others
            .map((n) => firstEvent(n, t0, 'quarantined', v.slot))
            .filter((e) => e !== undefined)
            .map((e) => String(e.event['reason'])),
          2,
        ),
      ),
      ...resumed,
      {
        metric: 'stopped node: Terminated after SIGCONT (ms after SIGCONT)',
        count: `${vTerm.length}/${others.length}`,
        values: vTerm.map((e) => e.at - tCont),
      },
      { metric: `events at the others between SIGCONT and the probes`, note: eventCounts(others, tCont, tProbe) },
      probeRow(`${ctx.opts.settleMs / 1000} s after SIGCONT: resumed -> other (resolveOne + ask)`, probes.fromV),
      probeRow(`${ctx.opts.settleMs / 1000} s after SIGCONT: other -> resumed (resolveOne + ask)`, probes.toV),
    )
    const quarantinedPeers = new Set(vEvents.filter((e) => kindOf(e) === 'quarantined').map((e) => String(e.event['remote']))).size
    const quarantinedBy = new Set(vEvents.filter((e) => kindOf(e) === QUARANTINED_BY_PEER).map((e) => String(e.event['remote']))).size
    r.figures = {
      terminatedP50Ms: p50(term.values),
      terminatedCount: term.values?.length ?? 0,
      resumedQuarantinedPeers: quarantinedPeers,
      resumedQuarantinedByPeers: quarantinedBy,
      probesFromResumedOk: probes.fromV.filter((p) => p.ok).length,
      probesToResumedOk: probes.toV.filter((p) => p.ok).length,
    }
  })
}

// ---- 3. partition ---------------------------------------------------------------------------------

interface StreamOut {
  sent: number
  dropped: number
  droppedInAggregate?: number
  deadLetters: number
}
interface SinkIn {
  count: number
  unique: number
  duplicates: number
  outOfOrder: number
}

export function runPartition(ctx: ScenarioContext, partitionMs: number): Promise<ScenarioResult> {
  const variant = `partition ${partitionMs / 1000} s`
  if (ctx.net.mode !== 'netns') {
    return Promise.resolve({
      scenario: 'partition',
      variant,
      transport: ctx.transport,
      nodes: ctx.net.slots.length,
      rows: [],
      figures: {},
      events: {},
      durationMs: 0,
      skipped: `partitions need network namespaces: ${ctx.net.noPartitionReason ?? 'not available'}`,
    })
  }
  return withCluster(ctx, 'partition', variant, async (c, r) => {
    const v = c.nodes[VICTIM] as NodeProc
    const o = c.nodes[OBSERVER] as NodeProc
    const others = c.nodes.filter((n) => n !== v)
    const count = Math.max(1, Math.floor(partitionMs / STREAM_INTERVAL_MS))
    const base = (n: NodeProc): string => n.address

    const t0 = Date.now()
    ctx.net.partition(v.slot)
    // numbered user messages both ways between the observer and the partitioned node, during the partition
    const streams = Promise.all([
      o.command('stream', { path: `${base(v)}/user/sink`, count, intervalMs: STREAM_INTERVAL_MS }, partitionMs + 30_000),
      v.command('stream', { path: `${base(o)}/user/sink`, count, intervalMs: STREAM_INTERVAL_MS }, partitionMs + 30_000),
    ])
    // half way: the observer watches the partitioned node's wt0..wt9, then unwatches wt5..wt9
    await sleep(partitionMs / 2)
    const targets = Array.from({ length: WATCH_TARGETS }, (_, i) => `${base(v)}/user/wt${i}`)
    const half = WATCH_TARGETS / 2
    await o.command('watchRefs', { watch: targets, unwatch: targets.slice(half) })
    await sleep(t0 + partitionMs - Date.now())
    const tHeal = Date.now()
    ctx.net.heal(v.slot)
    await streams

    // recovery: fresh resolveOne + ask every 500 ms, both directions, each pair on its own
    const [toV, fromV] = await Promise.all([
      Promise.all(others.map((n) => pollRecovery(n, `${v.address}/user/echo`, tHeal, ctx.opts.recoveryMs))),
      Promise.all(others.map((n) => pollRecovery(v, `${n.address}/user/echo`, tHeal, ctx.opts.recoveryMs))),
    ])
    const recRow = (metric: string, res: typeof toV): MetricRow => {
      const values = res.map((x) => x.ms).filter((x): x is number => x !== null)
      const failed = res.filter((x) => x.ms === null)
      return {
        metric,
        count: `${values.length}/${res.length} recovered`,
        values,
        ...(failed.length > 0
          ? {
              note: `not recovered within ${ctx.opts.recoveryMs / 1000} s: ${failed.length}; last error: ${tally(
                failed.map((x) => x.lastError ?? '?'),
                2,
              )}`,
            }
          : {}),
      }
    }

    // the watched targets stop: a watch that survived gives a Terminated now
    const tStop = Date.now()
    await v.command('stopTargets').catch(() => undefined)
    await o.waitFor((e) => e.type === 'terminated' && e.at >= tStop && e.path.includes('/user/wt'), 3000)
    await sleep(500)
    const wt = o.log.filter((e): e is TerminatedEntry => e.type === 'terminated' && e.at >= t0 && /\/user\/wt\d+/.test(e.path))
    const idx = (e: TerminatedEntry): number => Number(/\/user\/wt(\d+)/.exec(e.path)?.[1] ?? -1)
    const watched = wt.filter((e) => idx(e) < half)
    const unwatched = wt.filter((e) => idx(e) >= half)

    // what became of the streams
    await sleep(1000)
    const [oOut, vOut, oIn, vIn] = await Promise.all([
      o.command<StreamOut | null>('streamReport', { to: base(v) }).catch(() => null),
      v.command<StreamOut | null>('streamReport', { to: base(o) }).catch(() => null),
      o.command<Record<string, SinkIn>>('sinkReport').catch(() => ({}) as Record<string, SinkIn>),
      v.command<Record<string, SinkIn>>('sinkReport').catch(() => ({}) as Record<string, SinkIn>),
    ])
    const streamRow = (metric: string, out: StreamOut | null, inbox: SinkIn | undefined): MetricRow => {
      if (out === null) return { metric, note: 'no report' }
      const delivered = inbox?.unique ?? 0 // no entry: nothing arrived
      const aggregate = out.droppedInAggregate ?? 0
      const unaccounted = out.sent - delivered - out.dropped - aggregate - out.deadLetters
      return {
        metric,
        count: `${delivered}/${out.sent} delivered`,
        note:
          `dropped ${out.dropped}${aggregate > 0 ? ` + ${aggregate} in aggregate reports for that peer (not confirmed: delivered or lost; may include the recovery probes)` : ''}, dead letters ${out.deadLetters}, ` +
          `${unaccounted >= 0 ? `lost without any event ${unaccounted}` : `reported ${-unaccounted} more than were missing`}` +
          `${inbox !== undefined && (inbox.duplicates > 0 || inbox.outOfOrder > 0) ? `, duplicates ${inbox.duplicates}, out of order ${inbox.outOfOrder}` : ''}`,
      }
    }

    const term = timesRow('Terminated at watchers (ms after link down)', others, t0, (n) => terminatedOf(n, t0, echoPart(v.slot)))
    const vQuar = v.log.filter((e): e is EventEntry => e.type === 'event' && kindOf(e) === 'quarantined' && e.at >= t0)
    const vQuarBy = v.log.filter((e): e is EventEntry => e.type === 'event' && kindOf(e) === QUARANTINED_BY_PEER && e.at >= t0)
    r.rows.push(
      term,
      timesRow(
        'quarantined event at the others (ms after link down)',
        others,
        t0,
        (n) => firstEvent(n, t0, 'quarantined', v.slot),
        tally(
          others
            .map((n) => firstEvent(n, t0, 'quarantined', v.slot))
            .filter((e) => e !== undefined)
            .map((e) => String(e.event['reason'])),
          2,
        ),
      ),
      {
        metric: 'partitioned node: quarantined events (ms after link down)',
        count: `${new Set(vQuar.map((e) => String(e.event['remote']))).size} peers`,
        values: vQuar.map((e) => e.at - t0),
        ...(vQuar.length > 0
          ? {
              note: tally(
                vQuar.map((e) => String(e.event['reason'])),
                2,
              ),
            }
          : {}),
      },
      ...(vQuarBy.length > 0
        ? [
            {
              metric: 'partitioned node: quarantined by a peer (byPeer; ms after link down)',
              count: `${new Set(vQuarBy.map((e) => String(e.event['remote']))).size} peers`,
              values: vQuarBy.map((e) => e.at - t0),
              note: tally(
                vQuarBy.map((e) => String(e.event['reason'])),
                2,
              ),
            },
          ]
        : []),
      { metric: 'events at the others during the partition', note: eventCounts(others, t0, tHeal) },
      { metric: 'events at the partitioned node during the partition', note: eventCounts([v], t0, tHeal) },
      { metric: 'events at the others after the heal', note: eventCounts(others, tHeal) },
      { metric: 'events at the partitioned node after the heal', note: eventCounts([v], tHeal) },
      recRow('recovery other -> partitioned: first fresh resolveOne + ask ok (ms after heal)', toV),
      recRow('recovery partitioned -> other (ms after heal)', fromV),
      streamRow(`user messages observer -> partitioned (1 per ${STREAM_INTERVAL_MS} ms during the partition)`, oOut, vIn[o.address]),
      streamRow('user messages partitioned -> observer', vOut, oIn[v.address]),
      {
        metric: `watch wt0-${half - 1} then unwatch wt${half}-${WATCH_TARGETS - 1} during the partition; targets stopped after recovery`,
        count: `${watched.length}/${half} watched got Terminated`,
        note: `addressTerminated ${watched.filter((e) => e.addressTerminated).length}; unwatched that got Terminated ${unwatched.length}/${WATCH_TARGETS - half}`,
      },
    )
    r.figures = {
      terminatedP50Ms: p50(term.values),
      terminatedCount: term.values?.length ?? 0,
      recoveredToPartitioned: toV.filter((x) => x.ms !== null).length,
      recoveryToPartitionedMaxMs: toV.every((x) => x.ms !== null) ? maxOf(toV.map((x) => x.ms as number)) : null,
      recoveredFromPartitioned: fromV.filter((x) => x.ms !== null).length,
      recoveryFromPartitionedMaxMs: fromV.every((x) => x.ms !== null) ? maxOf(fromV.map((x) => x.ms as number)) : null,
      streamSent: oOut?.sent ?? null,
      streamDelivered: oOut === null ? null : (vIn[o.address]?.unique ?? 0),
    }
  })
}

// ---- 4. restart -------------------------------------------------------------------------------------

export function runRestart(ctx: ScenarioContext, afterQuarantine: boolean): Promise<ScenarioResult> {
  const variant = afterQuarantine ? 'restart after quarantine' : 'restart at once'
  return withCluster(ctx, 'restart', variant, async (c, r) => {
    const old = c.nodes[VICTIM] as NodeProc
    const others = c.nodes.filter((n) => n !== old)
    incarnations.set(c, [old])
    const t0 = Date.now()
    await old.kill()
    let waitedMs: number | undefined
    if (afterQuarantine) {
      await Promise.all(
        others.map((n) =>
          n.waitFor((e) => e.type === 'event' && e.name === 'quarantined' && e.at >= t0 && about(e, old.slot), ctx.opts.terminatedWaitMs),
        ),
      )
      waitedMs = Date.now() - t0
    }
    const fresh = await c.spawn(old.slot)
    const tListen = fresh.readyAt
    // from the moment it listens: ONE resolveOne(15 s) + ask from each other node
    const probes = await Promise.all(others.map((n) => probe(n, `${fresh.address}/user/echo`, 15_000, 5_000)))
    const okTimes = probes.filter((p) => p.ok).map((p) => p.at - tListen)
    // does a retry help? a second attempt only where the first failed (not part of the figure above)
    const retried = others.filter((_, i) => !(probes[i] as ProbeResult).ok)
    const retries = await Promise.all(retried.map((n) => probe(n, `${fresh.address}/user/echo`, 5_000, 5_000)))
    const quarantined = others.map((n) => firstEvent(n, t0, 'quarantined', old.slot))
    r.rows.push(
      { ...probeRow('others -> restarted: ONE resolveOne (15 s) + ask (ms from listening to the answer)', probes), values: okTimes },
      ...(retries.length > 0
        ? [
            {
              ...probeRow('  then a second resolveOne (5 s) + ask where the first failed (ms from listening)', retries),
              values: retries.filter((p) => p.ok).map((p) => p.at - tListen),
            },
          ]
        : []),
      {
        metric: 'restarted node listening (ms after SIGKILL)',
        count: '1',
        values: [tListen - t0],
        ...(waitedMs !== undefined
          ? { note: `started after every other node quarantined the old uid or ${ctx.opts.terminatedWaitMs} ms (${waitedMs} ms)` }
          : {}),
      },
      timesRow('Terminated (old incarnation) at watchers (ms after SIGKILL)', others, t0, (n) => terminatedOf(n, t0, echoPart(old.slot))),
      {
        ...timesRow('quarantined (old uid) at the others (ms after SIGKILL)', others, t0, (n) =>
          firstEvent(n, t0, 'quarantined', old.slot),
        ),
        note: tally(
          quarantined.filter((e) => e !== undefined).map((e) => String(e.event['reason'])),
          2,
        ),
      },
      { metric: 'events at the others from listening to the end of the probes', note: eventCounts(others, tListen) },
      { metric: 'events at the restarted node', note: eventCounts([fresh], 0) },
    )
    r.figures = {
      probesOk: okTimes.length,
      probesOf: probes.length,
      successP50Ms: p50(okTimes),
      successMaxMs: maxOf(okTimes),
      secondAttemptsOk: retries.filter((p) => p.ok).length,
    }
  })
}
