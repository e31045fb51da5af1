/**
 * What the mesh benchmark prints and writes: a table per phase and transport, the targets of the
 * many-nodes issue as PASS/FAIL rows, the `--json` line, and the "mesh" section of
 * bench/RESULTS.md, which keeps one block per kind of run, size, transport and commit (so that a
 * run before a change and one after it stand side by side).
 */
import { mdCell as cell, mergeResultsBlocks, parseResultsBlocks, replaceResultsSection, type ResultsBlock } from './report.js'
import type { MachineInfo } from './machine.js'
import type {
  Dist,
  IdlePhase,
  KillPhase,
  MeshOptions,
  MeshPhase,
  PairDiagnostics,
  StarIdle,
  Tally,
  TrafficPhase,
  TransportResult,
} from './meshRun.js'

export interface MeshReport {
  bench: 'mesh'
  kind: 'mesh' | 'star'
  date: string
  command: string
  /** The commit measured. */
  commit: string
  machine: MachineInfo
  mode: 'netns' | 'loopback'
  /** Why the nodes run on loopback, when they do. */
  modeNote?: string
  options: MeshOptions
  /** Remote settings the nodes ran with (what the options changed; the rest are the defaults). */
  settings: Record<string, unknown>
  results: TransportResult[]
  /** The machine around the run: load averages, what other processes used meanwhile. */
  environment: {
    loadavgStart: number[]
    loadavgEnd: number[]
    others: { cpuSeconds: number; top: { pid: number; cpuSeconds: number; cmd: string }[] }
    /** The whole machine over the run: busy, in % of all cores. */
    machineBusyPct?: number
    /** CPU seconds used by the machine, and by this benchmark's processes (nodes and this one), over the run. */
    machineBusyCpuSeconds?: number
    benchCpuSeconds?: number
  }
  notes: string[]
  durationSec: number
}

export interface TargetCheck {
  target: string
  measured: string
  /** null: not measured (phase skipped, or not applicable). */
  ok: boolean | null
}

// ---- formatting ----------------------------------------------------------------------------------

const int = (n: number | null | undefined): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US')
const fix = (n: number | null | undefined, d = 2): string => (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d))
const sec = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`
/** "mean / p50 / max" */
const mpm = (d: Dist | null | undefined, digits = 2): string =>
  d ? `${fix(d.mean, digits)} / ${fix(d.p50, digits)} / ${fix(d.max, digits)}` : '-'
/** "mean (min-max)" */
const mr = (d: Dist | null | undefined, digits = 0): string =>
  d ? `${fix(d.mean, digits)} (${fix(d.min, digits)}-${fix(d.max, digits)})` : '-'
const tallyText = (t: readonly Tally[] | undefined, limit = 4): string =>
  t === undefined || t.length === 0
    ? 'none'
    : t
        .slice(0, limit)
        .map((x) => (x.count > 0 ? `${x.text} (${int(x.count)})` : x.text))
        .join('; ')
const counts = (e: Record<string, number> | undefined): string => {
  const entries = Object.entries(e ?? {}).filter(([, v]) => v !== 0)
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${int(v)}`).join(', ')
}
const histogram = (h: Record<string, number>): string =>
  Object.entries(h)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([k, v]) => `${k}: ${int(v)}`)
    .join(', ') || '-'

/** The rows of one pair's diagnostics: both ends' associations with each other, and the events naming the other end. */
const pairRows = (d: PairDiagnostics): string[][] => [
  [`associations of ${d.pair} (sender; receiver)`, `${JSON.stringify(d.sender)}; ${JSON.stringify(d.receiver)}`],
  [
    `events of ${d.pair} naming the other end (sender; receiver)`,
    `${(d.senderEvents ?? []).join(', ') || 'none'}; ${(d.receiverEvents ?? []).join(', ') || 'none'}`,
  ],
]

interface Table {
  title: string
  headers: string[]
  rows: string[][]
}

function formationTable(r: TransportResult, m: MeshPhase): Table {
  const star = r.kind === 'star'
  return {
    title: star
      ? `Phase 1 — star formation: the observer resolves and asks /user/echo on each of ${int(r.nodes)} peers, and each peer on the observer (bound ${sec(m.boundMs)})`
      : `Phase 1 — mesh formation: every node resolves and asks /user/echo on every other node (bound ${sec(m.boundMs)})`,
    headers: ['metric', 'value'],
    rows: [
      ['pairs answered', `${int(m.answered)}/${int(m.pairs)}`],
      [
        'time until every pair answered',
        m.allAnsweredMs !== null ? sec(m.allAnsweredMs) : `not formed: ${int(m.missing)} pairs missing after ${sec(m.boundMs)}`,
      ],
      [
        'pairs answered after (p50 / p90 / max)',
        m.answeredMs ? `${sec(m.answeredMs.p50)} / ${sec(m.answeredMs.p90)} / ${sec(m.answeredMs.max)}` : '-',
      ],
      ['attempts (resolveOne + ask)', `${int(m.attempts)}: ${int(m.retries)} retries, ${int(m.pairsRetried)} pairs needed more than one`],
      ['failed attempts, last error of each pair', tallyText(m.errors)],
      ...(m.missing > 0
        ? [
            ['missing pairs by source', tallyText(m.missingBySource, 5)],
            ['missing pairs by target', tallyText(m.missingByTarget, 5)],
            ['missing pairs (sample)', m.missingSample.slice(0, 4).join('; ')],
          ]
        : []),
      ['pairs answered over time', m.timeline.map((p) => `${p.s}s:${p.answered}`).join(' ')],
      ['established associations per node at the end (mean, min-max)', mr(m.establishedAtEnd)],
      ...(m.secondPass
        ? [
            [
              `the missing pairs once more, ${m.secondPass.afterS} s later (one resolveOne + ask each)`,
              `${int(m.secondPass.answered)}/${int(m.secondPass.pairs)} answered (established associations per node then: ${mr(m.secondPass.establishedBefore)})${m.secondPass.errors.length ? `; failures: ${tallyText(m.secondPass.errors, 3)}` : ''}`,
            ],
          ]
        : []),
      ...(m.missingPairs ?? []).flatMap(pairRows),
      ['events during formation', counts(m.events)],
      ['events by reason', tallyText(m.eventTally)],
    ],
  }
}

function idleTable(idle: IdlePhase | undefined, watched: IdlePhase | undefined): Table {
  const both = [idle, watched]
  const row = (label: string, f: (p: IdlePhase) => string): string[] => [label, ...both.map((p) => (p ? f(p) : 'not run'))]
  return {
    title: 'Phase 2 — idle: per node, over the window (values: mean / p50 / max over the nodes unless said)',
    headers: ['metric', 'nothing watched', 'every node watching /user/echo on every other'],
    rows: [
      row('window', (p) => `${fix(p.windowS, 1)} s`),
      row('watches (acknowledged after)', (p) =>
        p.watches ? `${int(p.watches.watches)} (${sec(p.watches.ms)}${p.watches.unacked ? `, ${p.watches.unacked} unacked` : ''})` : '-',
      ),
      row('CPU per node, % of one core', (p) => mpm(p.cpuPct)),
      row('RSS per node, MiB', (p) => mpm(p.rssMb, 0)),
      row('V8 heap used per node at the end, MiB', (p) => mpm(p.heapUsedMb, 1)),
      row('open descriptors per node', (p) => mpm(p.fds, 0)),
      row('TCP connections per node', (p) => mpm(p.conns?.perNode, 0)),
      row('TCP connections per pair: pairs with n', (p) => (p.conns ? histogram(p.conns.perPairHistogram) : '-')),
      row('TCP connections with payload both ways / one way / none in the window', (p) =>
        p.conns ? `${int(p.conns.bothWays)} / ${int(p.conns.oneWay)} / ${int(p.conns.silent)}` : '-',
      ),
      row('packets/s sent per node', (p) => `${mpm(p.packetsPerSec, 1)}${p.packetsNote.startsWith('loopback') ? ' (lo / nodes)' : ''}`),
      row('frames/s sent per node (idle: heartbeats, replies, acks)', (p) => mpm(p.framesPerSec, 1)),
      row('bytes/s sent per node (frames)', (p) => mpm(p.bytesPerSec, 0)),
      row('garbage collections per node: count, ms (mean / max)', (p) =>
        p.gcCount ? `${fix(p.gcCount.mean, 1)} / ${fix(p.gcCount.max, 0)}, ${fix(p.gcMs?.mean, 0)} / ${fix(p.gcMs?.max, 0)} ms` : '-',
      ),
      row('established associations per node', (p) => mr(p.established)),
      ...(both.some((p) => p?.eldMs)
        ? [
            row('event-loop delay per node, ms: max (mean over nodes / max)', (p) =>
              p.eldMs?.max ? `${fix(p.eldMs.max.mean)} / ${fix(p.eldMs.max.max)}` : '-',
            ),
          ]
        : []),
      row(
        'machine busy, % of all cores (of which the nodes)',
        (p) => `${fix(p.machine.busyPct, 1)} (${fix(p.machine.nodesPct, 1)}) of ${p.machine.cores}`,
      ),
      row('events in the window', (p) => counts(p.events)),
      row('events by reason', (p) => tallyText(p.eventTally, 3)),
    ],
  }
}

function starTable(idle: StarIdle | undefined, watched: StarIdle | undefined): Table {
  const both = [idle, watched]
  const row = (label: string, f: (p: StarIdle) => string): string[] => [label, ...both.map((p) => (p ? f(p) : 'not run'))]
  return {
    title: "Phase 2 — the observer's cost, over the window",
    headers: ['metric', 'nothing watched', 'every system watching its peers (observer: every peer)'],
    rows: [
      row('window', (p) => `${fix(p.windowS, 1)} s`),
      row('watches (acknowledged after)', (p) =>
        p.watches ? `${int(p.watches.watches)} (${sec(p.watches.ms)}${p.watches.unacked ? `, ${p.watches.unacked} unacked` : ''})` : '-',
      ),
      row('observer CPU, % of one core', (p) => fix(p.observer.cpuPct)),
      row('observer event-loop delay (20 ms sampler), ms: mean / p99 / max', (p) =>
        p.observer.eld ? `${fix(p.observer.eld.mean)} / ${fix(p.observer.eld.p99)} / ${fix(p.observer.eld.max)}` : '-',
      ),
      row('observer RSS, MiB', (p) => fix(p.observer.rssMb, 0)),
      row('observer V8 heap used at the end, MiB', (p) => fix(p.observer.heapUsedMb, 1)),
      row('observer garbage collections: count, ms', (p) =>
        p.observer.gcCount === undefined ? '-' : `${p.observer.gcCount}, ${fix(p.observer.gcMs, 0)} ms`,
      ),
      row('observer open descriptors (limit)', (p) => `${int(p.observer.fds)} (${int(p.observer.nofile)})`),
      row('observer TCP connections', (p) => int(p.observer.tcpConnections)),
      row('  with payload both ways / one way / none in the window', (p) =>
        p.observer.bothWays === null ? '-' : `${int(p.observer.bothWays)} / ${int(p.observer.oneWay)} / ${int(p.observer.silent)}`,
      ),
      row('observer associations (established)', (p) => `${int(p.observer.associations)} (${int(p.observer.established)})`),
      row(
        'observer frames/s sent / received',
        (p) => `${fix(p.observer.framesSentPerSec, 1)} / ${fix(p.observer.framesReceivedPerSec, 1)}`,
      ),
      row('observer packets/s sent / received', (p) =>
        p.observer.packetsSentPerSec === null
          ? p.observer.packetsNote
          : `${fix(p.observer.packetsSentPerSec, 1)} / ${fix(p.observer.packetsReceivedPerSec, 1)}`,
      ),
      row('peer processes: CPU % each (mean / p50 / max)', (p) => mpm(p.peers.cpuPctPerProcess)),
      row(
        'peer processes: RSS MiB, descriptors each (mean)',
        (p) => `${fix(p.peers.rssMbPerProcess?.mean, 0)}, ${fix(p.peers.fdsPerProcess?.mean, 0)}`,
      ),
      row(
        'machine busy, % of all cores (of which the bench processes)',
        (p) => `${fix(p.machine.busyPct, 1)} (${fix(p.machine.nodesPct, 1)}) of ${p.machine.cores}`,
      ),
      row('events in the window', (p) => counts(p.events)),
      row('events by reason', (p) => tallyText(p.eventTally, 3)),
    ],
  }
}

/**
 * The share of the machine's cores the nodes used during the traffic (their mean CPU x their number),
 * when the core count is known: near 1, the phase measured the machine's capacity more than the
 * remoting (queues grow everywhere, datagrams overflow receive buffers, deadlines pass).
 */
export function trafficLoad(t: TrafficPhase, nodes: number, cores: number | undefined): number | undefined {
  if (t.cpuPct === null || cores === undefined || cores <= 0) return undefined
  return (t.cpuPct.mean * nodes) / (cores * 100)
}

/** Above this share of the machine's cores the traffic phase is reported as overloaded. */
const OVERLOADED = 0.9
/** Senders whose ticks ran this late (ms; mean over the nodes of each one's latest) had their event loops stalled. */
const STALLED_MS = 1000

/** Why the traffic phase measured an overloaded machine, if it did. */
export function trafficOverload(t: TrafficPhase, nodes: number, cores: number | undefined): string | undefined {
  const load = trafficLoad(t, nodes, cores)
  const why: string[] = []
  if (load !== undefined && load >= OVERLOADED) why.push(`the nodes used ${fix(load * 100, 0)}% of the ${cores} cores`)
  const late = t.senderLateMaxMs?.mean
  if (late !== undefined && late >= STALLED_MS) why.push(`the senders' ticks ran up to ${sec(late)} late (mean over the nodes)`)
  return why.length > 0 ? `overloaded: ${why.join(', ')}` : undefined
}

function trafficTable(t: TrafficPhase, nodes: number, cores: number | undefined): Table {
  const load = trafficLoad(t, nodes, cores)
  const overload = trafficOverload(t, nodes, cores)
  return {
    title: `Phase 3 — traffic: every node tells every other node's /user/sink ${t.ratePerPeer} msg/s for ${t.durationS} s, asks to /user/echo sampled`,
    headers: ['metric', 'value'],
    rows: [
      [
        'messages sent (of the schedule)',
        `${int(t.sent)} (${int(t.expected)})${t.sent < t.expected ? `: the senders fell behind and sent ${fix((t.sent / t.expected) * 100, 1)}% by the end of the phase` : ''}`,
      ],
      ['delivered (unique, counted by the sinks)', `${int(t.delivered)}${t.sent > 0 ? ` (${fix((t.delivered / t.sent) * 100, 3)}%)` : ''}`],
      ['lost (sent, never counted)', `${int(t.lost)} in ${int(t.pairsWithLoss)} of ${int(t.pairs)} pairs`],
      ...(t.lossSample.length > 0 ? [['lost: pairs (sample)', t.lossSample.slice(0, 4).join('; ')]] : []),
      ['duplicates / out of order', `${int(t.duplicates)} / ${int(t.outOfOrder)}`],
      ["'dropped' events (messages they stand for)", `${int(t.droppedEvents)} (${int(t.droppedMessages)})`],
      ['dropped by kind and reason', tallyText(t.droppedByKind)],
      ['dead letters at the nodes during the traffic', int(t.deadLetters)],
      ...(t.lossyPairs ?? []).flatMap(pairRows),
      ...(t.lostReports
        ? [
            [
              "reported lost in transit by the receivers ('dropped' events), against the sink messages missed",
              `${int(t.lostReports.reported)} messages in ${int(t.lostReports.pairsReporting)} pairs; more than the sinks missed in ${int(t.lostReports.pairsOverreported)} pairs (${int(t.lostReports.overreported)} more: asks and undecodable envelopes are numbered user messages too)`,
            ],
            ...t.lostReports.sample.flatMap(pairRows),
          ]
        : []),
      ...(t.udpRcvbufErrors !== undefined && t.udpRcvbufErrors !== null
        ? [["datagrams dropped by the kernels (UDP RcvbufErrors in the nodes' namespaces)", int(t.udpRcvbufErrors)]]
        : []),
      ['drain after the last send', sec(t.drainMs)],
      ['sender ticks late, ms (max per node: mean / p50 / max)', mpm(t.senderLateMaxMs, 0)],
      ['CPU per node during the traffic, %', mpm(t.cpuPct, 1)],
      ...(load !== undefined
        ? [["the nodes' CPU during the traffic, share of the machine's cores", `${fix(load * 100, 0)}% of ${cores}`]]
        : []),
      ...(overload !== undefined
        ? [
            [
              'overload',
              `${overload}: the rate is more than this machine carries at this size (queues grow, deadlines pass, datagrams overflow receive buffers); lower --rate to measure the remoting rather than the machine`,
            ],
          ]
        : []),
      ['asks sampled (failed)', `${int(t.asks)} (${int(t.askFailures)})`],
      [
        'ask round trip, ms: p50 / p90 / p99 / p99.9 / max',
        t.latencyMs
          ? `${fix(t.latencyMs.p50)} / ${fix(t.latencyMs.p90)} / ${fix(t.latencyMs.p99)} / ${fix(t.latencyMs.p999)} / ${fix(t.latencyMs.max)}`
          : '-',
      ],
      ...(t.askErrors.length > 0 ? [['ask failures', tallyText(t.askErrors)]] : []),
      ['events during the traffic', counts(t.events)],
      ['events by reason', tallyText(t.eventTally)],
    ],
  }
}

function killTable(k: KillPhase): Table {
  return {
    title: `Phase 4 — SIGKILL of ${k.victim} (${k.victimAddress}): Terminated at its watchers`,
    headers: ['metric', 'value'],
    rows: [
      [
        'watchers with Terminated',
        `${k.terminated}/${k.watchers}${k.terminated < k.watchers ? ` after ${sec(k.waitedMs)}; missing: ${k.missing.slice(0, 8).join(', ')}` : ''}`,
      ],
      [
        'ms from the SIGKILL: min / p50 / p90 / max',
        k.terminatedMs
          ? `${int(k.terminatedMs.min)} / ${int(k.terminatedMs.p50)} / ${int(k.terminatedMs.p90)} / ${int(k.terminatedMs.max)}`
          : '-',
      ],
      ['events at the watchers', counts(k.events)],
      ['events by reason', tallyText(k.eventTally)],
    ],
  }
}

// ---- targets -------------------------------------------------------------------------------------

/** The targets of the many-nodes issue, for one transport of a mesh run. */
export function checkTargets(r: TransportResult, cores?: number): TargetCheck[] {
  if (r.kind !== 'mesh') return []
  const size = r.nodes === 100 ? '' : ` (this run: ${r.nodes} nodes)`
  const out: TargetCheck[] = []
  const m = r.mesh
  out.push({
    target: 'mesh formed in under 30 s (100 nodes, 2 cores)',
    measured:
      m === undefined
        ? 'not measured'
        : m.allAnsweredMs !== null
          ? `${sec(m.allAnsweredMs)}${size}`
          : `not formed: ${int(m.missing)} of ${int(m.pairs)} pairs missing after ${sec(m.boundMs)}${size}`,
    ok: m === undefined ? null : m.allAnsweredMs !== null && m.allAnsweredMs < 30_000,
  })
  const cpu = (p: IdlePhase | undefined, limit: number, what: string): TargetCheck => ({
    target: `idle CPU per node under ${limit}% (${what})`,
    measured: p?.cpuPct ? `mean ${fix(p.cpuPct.mean)}%, p50 ${fix(p.cpuPct.p50)}%, max ${fix(p.cpuPct.max)}%${size}` : 'not measured',
    ok: p?.cpuPct ? p.cpuPct.mean < limit : null,
  })
  out.push(cpu(r.idle, 1, 'nothing watched'))
  out.push(cpu(r.watched, 1.5, 'every node watching one actor on every other'))
  if (r.transport === 'udp') out.push({ target: 'at most 2 TCP connections per pair', measured: 'not applicable (udp)', ok: null })
  else {
    const maxes = [r.idle, r.watched].map((p) => p?.conns?.perPairMax).filter((x): x is number => x !== null && x !== undefined)
    const max = maxes.length ? Math.max(...maxes) : null
    const h = (r.watched ?? r.idle)?.conns?.perPairHistogram
    out.push({
      target: 'at most 2 TCP connections per pair',
      measured: max === null ? 'not measured' : `max ${max} (pairs with n: ${h ? histogram(h) : '-'})`,
      ok: max === null ? null : max <= 2,
    })
  }
  const t = r.traffic
  const overload = t ? trafficOverload(t, r.nodes, cores) : undefined
  out.push({
    target: 'no message lost in the traffic phase',
    measured: t
      ? `${int(t.lost)} of ${int(t.sent)} sink messages never counted; ${int(t.droppedMessages)} messages in 'dropped' events; ${int(t.askFailures)} of ${int(t.asks)} asks failed${overload !== undefined ? ` (${overload})` : ''}`
      : 'not measured',
    // a message the remoting reports as dropped is lost too, whatever it was (asks, replies, ...)
    ok: t ? t.lost === 0 && t.droppedMessages === 0 && t.sent > 0 : null,
  })
  return out
}

export const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL')

function targetsTable(r: TransportResult, cores: number | undefined): Table | undefined {
  const checks = checkTargets(r, cores)
  if (checks.length === 0) return undefined
  return {
    title: 'Targets of the issue (measured)',
    headers: ['verdict', 'target', 'measured'],
    rows: checks.map((c) => [verdict(c.ok), c.target, c.measured]),
  }
}

function tablesOf(r: TransportResult, cores: number | undefined): Table[] {
  const out: Table[] = []
  if (r.mesh) out.push(formationTable(r, r.mesh))
  if (r.kind === 'mesh' && (r.idle || r.watched)) out.push(idleTable(r.idle, r.watched))
  if (r.kind === 'star' && (r.starIdle || r.starWatched)) out.push(starTable(r.starIdle, r.starWatched))
  if (r.traffic) out.push(trafficTable(r.traffic, r.nodes, cores))
  if (r.kill) out.push(killTable(r.kill))
  const t = targetsTable(r, cores)
  if (t) out.push(t)
  return out
}

function titleOf(report: MeshReport, r: TransportResult): string {
  return r.kind === 'star'
    ? `${r.transport}: one observer facing ${int(r.nodes)} peers in ${r.processes - 1} processes (started in ${sec(r.startMs)}; descriptor limit ${limitText(r)})`
    : `${r.transport}: ${r.nodes} nodes, one process each${report.mode === 'netns' ? ' in its own network namespace' : ' on 127.0.0.1'} (started in ${sec(r.startMs)}; descriptor limit ${limitText(r)})`
}

const limitText = (r: TransportResult): string =>
  `${r.nofile.min === r.nofile.max ? int(r.nofile.min) : `${int(r.nofile.min)}-${int(r.nofile.max)}`}${r.nofile.set !== null ? ', set with prlimit' : ', inherited'}`

function plainTable(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  return [t.title, line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n')
}

export function headerLines(report: MeshReport): string[] {
  const m = report.machine
  const e = report.environment
  const others = e.others.top
    .slice(0, 4)
    .map((p) => `${p.cmd.split(' ').slice(0, 3).join(' ').slice(0, 60)} ${p.cpuSeconds} s`)
    .join('; ')
  return [
    `Mesh${report.kind === 'star' ? ' (star)' : ''} — commit ${report.commit}, ${report.mode === 'netns' ? 'network namespaces joined by a bridge' : `loopback (${report.modeNote ?? ''})`}, node ${m.node}, ${m.nproc} x ${m.cpuModel}, ${int(m.totalMemoryMb)} MB`,
    `remote settings: ${Object.keys(report.settings).length === 0 ? 'defaults (heartbeat 1 s, failure detector threshold 10, acceptable pause 10 s)' : JSON.stringify(report.settings)}; logger silent, events counted`,
    `load average at start ${e.loadavgStart.map((x) => x.toFixed(2)).join(' ')}, at end ${e.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; the machine was ${e.machineBusyPct !== undefined ? `${fix(e.machineBusyPct, 0)}%` : '?'} busy over the run (${int(e.machineBusyCpuSeconds)} CPU-s, of which this benchmark ${int(e.benchCpuSeconds)}: other work used about ${e.machineBusyCpuSeconds !== undefined && e.benchCpuSeconds !== undefined ? int(e.machineBusyCpuSeconds - e.benchCpuSeconds) : '?'} CPU-s${others ? `; of the processes alive at both ends: ${others}` : ''})`,
  ]
}

/** The terminal report. */
export function renderTables(report: MeshReport): string {
  const out: string[] = [...headerLines(report), '']
  for (const r of report.results) {
    out.push(`== ${titleOf(report, r)}${r.error ? ` — error: ${r.error.split('\n')[0]}` : ''}`, '')
    for (const t of tablesOf(r, report.machine.nproc)) out.push(plainTable(t), '')
  }
  for (const n of report.notes) out.push(n)
  out.push(`run took ${int(report.durationSec)} s`)
  return out.join('\n')
}

// ---- the --json line ---------------------------------------------------------------------------------

export interface JsonCase {
  case: string
  value: number | null
  unit: string
}

export function jsonCases(report: MeshReport): JsonCase[] {
  const cases: JsonCase[] = []
  for (const r of report.results) {
    const p = r.kind === 'star' ? `mesh star ${r.transport} peers=${r.nodes}` : `mesh ${r.transport} nodes=${r.nodes}`
    const add = (name: string, value: number | null | undefined, unit: string): void => {
      cases.push({ case: `${p} ${name}`, value: value === undefined || (value !== null && !Number.isFinite(value)) ? null : value, unit })
    }
    if (r.mesh) {
      add('formation allAnswered', r.mesh.allAnsweredMs, 'ms')
      add('formation missingPairs', r.mesh.missing, 'count')
      add('formation retries', r.mesh.retries, 'count')
    }
    for (const [name, ph] of [
      ['idle', r.idle],
      ['watched', r.watched],
    ] as const) {
      if (!ph) continue
      add(`${name} cpuPerNode mean`, ph.cpuPct?.mean, '%')
      add(`${name} cpuPerNode max`, ph.cpuPct?.max, '%')
      add(`${name} rssPerNode mean`, ph.rssMb?.mean, 'MiB')
      add(`${name} fdsPerNode mean`, ph.fds?.mean, 'count')
      add(`${name} tcpPerNode mean`, ph.conns?.perNode?.mean, 'count')
      add(`${name} tcpPerPair max`, ph.conns?.perPairMax, 'count')
      add(`${name} packetsPerSecPerNode mean`, ph.packetsPerSec?.mean, 'packets/s')
      add(`${name} framesPerSecPerNode mean`, ph.framesPerSec?.mean, 'frames/s')
    }
    for (const [name, ph] of [
      ['idle', r.starIdle],
      ['watched', r.starWatched],
    ] as const) {
      if (!ph) continue
      add(`${name} observer cpu`, ph.observer.cpuPct, '%')
      add(`${name} observer fds`, ph.observer.fds, 'count')
      add(`${name} observer tcp`, ph.observer.tcpConnections, 'count')
      add(`${name} observer framesSentPerSec`, ph.observer.framesSentPerSec, 'frames/s')
      add(`${name} observer packetsSentPerSec`, ph.observer.packetsSentPerSec, 'packets/s')
      add(`${name} observer eventLoopDelayMax`, ph.observer.eld?.max, 'ms')
    }
    if (r.traffic) {
      add('traffic sent', r.traffic.sent, 'count')
      add('traffic delivered', r.traffic.delivered, 'count')
      add('traffic lost', r.traffic.lost, 'count')
      add('traffic droppedMessages', r.traffic.droppedMessages, 'count')
      add('traffic ask p50', r.traffic.latencyMs?.p50, 'ms')
      add('traffic ask p99', r.traffic.latencyMs?.p99, 'ms')
    }
    if (r.kill) {
      add('kill terminated', r.kill.terminated, 'count')
      add('kill terminated p50', r.kill.terminatedMs?.p50, 'ms')
      add('kill terminated max', r.kill.terminatedMs?.max, 'ms')
    }
    for (const c of checkTargets(r, report.machine.nproc))
      cases.push({ case: `${p} target ${c.target}`, value: c.ok === null ? null : c.ok ? 1 : 0, unit: 'pass' })
  }
  return cases
}

export function jsonLine(report: MeshReport): string {
  return JSON.stringify({ bench: 'mesh', results: jsonCases(report) })
}

// ---- RESULTS.md ----------------------------------------------------------------------------------------

export const SECTION_BEGIN = '<!-- mesh:begin -->'
export const SECTION_END = '<!-- mesh:end -->'
const BLOCK_BEGIN = '<!-- mesh-run '
const BLOCK_END = '<!-- /mesh-run -->'

/** One row of the summary tables at the top of the section, kept in the block's opening comment. */
interface BlockSummary {
  key: string
  kind: 'mesh' | 'star'
  commit: string
  date: string
  transport: string
  nodes: number
  cells: string[]
}

const MESH_SUMMARY_HEADERS = [
  'commit',
  'transport',
  'nodes',
  'mesh formed',
  'idle CPU/node (mean, max)',
  'watched CPU/node',
  'TCP/node',
  'TCP/pair max',
  'packets/s/node',
  'frames/s/node',
  'RSS/node',
  'traffic lost',
  'ask p50 / p99',
  'Terminated after SIGKILL (p50, max)',
  'targets passed',
]
const STAR_SUMMARY_HEADERS = [
  'commit',
  'transport',
  'peers (processes)',
  'formed',
  'observer CPU idle / watching',
  'event-loop delay max idle / watching',
  'descriptors',
  'TCP connections',
  'frames/s sent idle / watching',
  'packets/s sent idle / watching',
  'RSS',
]

function summaryOf(report: MeshReport, r: TransportResult): BlockSummary {
  const key = `${r.kind}|${r.nodes}|${r.transport}|${report.commit}`
  const base = { key, kind: r.kind, commit: report.commit, date: report.date, transport: r.transport, nodes: r.nodes }
  const formed = r.mesh
    ? r.mesh.allAnsweredMs !== null
      ? sec(r.mesh.allAnsweredMs)
      : `${int(r.mesh.missing)} of ${int(r.mesh.pairs)} pairs missing after ${sec(r.mesh.boundMs)}`
    : '-'
  if (r.kind === 'star') {
    const i = r.starIdle?.observer
    const w = r.starWatched?.observer
    return {
      ...base,
      cells: [
        report.commit,
        r.transport,
        `${int(r.nodes)} (${r.processes - 1})`,
        formed,
        `${fix(i?.cpuPct)}% / ${fix(w?.cpuPct)}%`,
        `${fix(i?.eld?.max, 1)} / ${fix(w?.eld?.max, 1)} ms`,
        int(w?.fds ?? i?.fds),
        int(w?.tcpConnections ?? i?.tcpConnections),
        `${fix(i?.framesSentPerSec, 0)} / ${fix(w?.framesSentPerSec, 0)}`,
        `${fix(i?.packetsSentPerSec, 0)} / ${fix(w?.packetsSentPerSec, 0)}`,
        `${fix(w?.rssMb ?? i?.rssMb, 0)} MiB`,
      ],
    }
  }
  const checks = checkTargets(r, report.machine.nproc)
  const measured = checks.filter((c) => c.ok !== null)
  const both = (d: Dist | null | undefined): string => (d ? `${fix(d.mean)}%, ${fix(d.max)}%` : '-')
  const ph = r.watched ?? r.idle
  return {
    ...base,
    cells: [
      report.commit,
      r.transport,
      String(r.nodes),
      formed,
      both(r.idle?.cpuPct),
      both(r.watched?.cpuPct),
      r.transport === 'udp' ? '-' : fix(ph?.conns?.perNode?.mean, 0),
      r.transport === 'udp' ? '-' : int(ph?.conns?.perPairMax),
      `${fix(r.idle?.packetsPerSec?.mean, 0)} / ${fix(r.watched?.packetsPerSec?.mean, 0)}`,
      `${fix(r.idle?.framesPerSec?.mean, 0)} / ${fix(r.watched?.framesPerSec?.mean, 0)}`,
      `${fix(ph?.rssMb?.mean, 0)} MiB`,
      r.traffic ? `${int(r.traffic.lost)} of ${int(r.traffic.sent)}` : '-',
      r.traffic?.latencyMs ? `${fix(r.traffic.latencyMs.p50, 1)} / ${fix(r.traffic.latencyMs.p99, 1)} ms` : '-',
      r.kill ? `${r.kill.terminated}/${r.kill.watchers}: ${int(r.kill.terminatedMs?.p50)}, ${int(r.kill.terminatedMs?.max)} ms` : '-',
      `${measured.filter((c) => c.ok).length}/${measured.length}`,
    ],
  }
}

function markdownTable(t: Table): string[] {
  return [
    `**${cell(t.title)}**`,
    '',
    `| ${t.headers.map(cell).join(' | ')} |`,
    `|${t.headers.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ]
}

function blockOf(report: MeshReport, r: TransportResult, jsonFile: string): string {
  const s = summaryOf(report, r)
  const m = report.machine
  const lines = [
    `${BLOCK_BEGIN}${JSON.stringify(s)} -->`,
    `### ${r.kind === 'star' ? `star, ${int(r.nodes)} peers` : `${r.nodes} nodes`}, ${r.transport}, commit ${report.commit}`,
    '',
    `- ${titleOf(report, r)}`,
    `- Command: \`${report.command}\`; ${report.date}; the run took ${int(report.durationSec)} s; JSON: \`${jsonFile}\``,
    `- Machine: ${m.nproc} x ${m.cpuModel}, ${int(m.totalMemoryMb)} MB RAM, node ${m.node}`,
    ...headerLines(report)
      .slice(1)
      .map((l) => `- ${l}`),
    '',
  ]
  if (r.error) lines.push(`Error: ${cell(r.error.split('\n')[0] as string)}`, '')
  for (const t of tablesOf(r, report.machine.nproc)) lines.push(...markdownTable(t))
  lines.push(BLOCK_END)
  return lines.join('\n')
}

type Block = ResultsBlock<BlockSummary>

/** The new section: the blocks already there, this run's blocks replacing those with the same key. */
export function renderMarkdownSection(existing: string, report: MeshReport, jsonFile: string): string {
  const fresh: Block[] = report.results.map((r) => ({ summary: summaryOf(report, r), text: blockOf(report, r, jsonFile) }))
  const blocks = mergeResultsBlocks(parseResultsBlocks<BlockSummary>(existing, BLOCK_BEGIN, BLOCK_END), fresh, (b) => b.summary.key)
  const order = (b: Block): string =>
    `${b.summary.kind === 'mesh' ? 0 : 1}|${b.summary.transport}|${String(b.summary.nodes).padStart(6, '0')}|${b.summary.date}`
  blocks.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
  const lines = [
    SECTION_BEGIN,
    '## mesh',
    '',
    'Many nodes: N node processes (one network namespace each, joined by a bridge, when run as root), every node an actor system with an echo actor and a counting sink; mesh formation, idle cost unwatched and watched, all-to-all traffic, a SIGKILL; and the star run (one observer facing N peers packed into a few processes). Written by `bench/mesh.bench.ts --update-results`: one block per kind of run, size, transport and commit, so that runs before and after a change stay side by side; edit outside the markers.',
    '',
  ]
  const meshRows = blocks.filter((b) => b.summary.kind === 'mesh')
  if (meshRows.length > 0) {
    lines.push(`| ${MESH_SUMMARY_HEADERS.join(' | ')} |`, `|${MESH_SUMMARY_HEADERS.map(() => '---').join('|')}|`)
    for (const b of meshRows) lines.push(`| ${b.summary.cells.map(cell).join(' | ')} |`)
    lines.push(
      '',
      'CPU in % of one core; packets/s and frames/s: nothing watched / watching; TCP per node and per pair: in the watched window.',
      '',
    )
  }
  const starRows = blocks.filter((b) => b.summary.kind === 'star')
  if (starRows.length > 0) {
    lines.push(`| ${STAR_SUMMARY_HEADERS.join(' | ')} |`, `|${STAR_SUMMARY_HEADERS.map(() => '---').join('|')}|`)
    for (const b of starRows) lines.push(`| ${b.summary.cells.map(cell).join(' | ')} |`)
    lines.push('')
  }
  for (const b of blocks)
    lines.push(
      '<details>',
      `<summary>${b.summary.kind === 'star' ? `star, ${int(b.summary.nodes)} peers` : `${b.summary.nodes} nodes`}, ${b.summary.transport}, commit ${b.summary.commit}: every table</summary>`,
      '',
      b.text,
      '',
      '</details>',
      '',
    )
  lines.push(SECTION_END)
  return lines.join('\n')
}

/** Replaces the mesh section of RESULTS.md (between the markers), or appends it. */
export function updateResultsMd(path: string, report: MeshReport, jsonFile: string): void {
  replaceResultsSection(path, SECTION_BEGIN, SECTION_END, (existing) => renderMarkdownSection(existing, report, jsonFile))
}
