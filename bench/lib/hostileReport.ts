/**
 * What the hostile-input benchmark prints and writes: the terminal table, the targets of issue 13
 * as PASS/FAIL rows, the `--json` line, and the "hostile" section of bench/RESULTS.md (one block per
 * kind of run and commit, so that the figures before and after a change stay side by side).
 */
import { mdCell as cell, mergeResultsBlocks, parseResultsBlocks, replaceResultsSection, type ResultsBlock } from './report.js'
import type { MachineInfo } from './machine.js'
import type { Probe, RowResult } from './hostileRun.js'

export interface HostileReport {
  bench: 'hostile'
  date: string
  command: string
  /** The commit measured (and whether packages/ had uncommitted changes). */
  commit: string
  /** `full` (every default variant), `quick`, or `partial` (some attacks or variants chosen). */
  kind: 'full' | 'quick' | 'partial'
  machine: MachineInfo
  options: Record<string, unknown>
  rows: RowResult[]
  /** Load average (1 min) at the start and the end of the run. */
  loadStart: number
  loadEnd: number
  durationSec: number
  notes: string[]
}

/** One PASS/FAIL row. */
export interface Check {
  row: string
  target: string
  measured: string
  /** null: could not be measured. */
  ok: boolean | null
}

/** The targets of issue 13. */
export const TARGETS = {
  rssAboveIdleMb: 256,
  backWithinMb: 20,
  backWithinMs: 30_000,
  newNodeMs: 2000,
  amplification: 1,
  /** Array buffers the victim may still hold after a full collection at the end of a queue row. */
  keptAfterGcMb: 4,
}

const fix = (n: number | null | undefined, d = 1): string => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d))
const int = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US'))
const sec = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)
const mib = (bytes: unknown): string => (typeof bytes === 'number' ? `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 0)} MiB` : '-')

export function verdict(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL'
}

/** The baseline row of a queue row (`queue-64KiB` → `queue-64KiB-unsent`), if `r` is one that has it. */
function queueBaselineId(r: RowResult): string | undefined {
  return r.attack === 'queue' && !r.id.endsWith('-unsent') && !r.id.endsWith('-reused') ? `${r.id}-unsent` : undefined
}

/** The PASS/FAIL rows of one attack row (`rows`: the run's rows so far, for the queue rows' baseline). */
export function checksOf(r: RowResult, rows: readonly RowResult[] = []): Check[] {
  const v = r.victim
  const out: Check[] = []
  const measured = r.error === undefined || v.peakRssMb > 0
  const delta = v.peakRssMb - v.idleRssMb
  out.push({
    row: r.id,
    target: `victim RSS <= idle + ${TARGETS.rssAboveIdleMb} MB during the attack`,
    measured: `peak ${fix(v.peakRssMb)} MB = idle ${fix(v.idleRssMb)} + ${fix(delta)}`,
    ok: measured ? delta <= TARGETS.rssAboveIdleMb : null,
  })
  const afterDelta = v.afterRssMb - v.idleRssMb
  const back = v.backWithinMs
  const baselineId = queueBaselineId(r)
  if (baselineId !== undefined) {
    // Fresh application buffers: what glibc keeps of them once freed is the same whether they were
    // sent or not (the -unsent row beside it), so this row's RSS is shown, not judged. The
    // remoting's own memory is judged by the -reused row, and by the full collection below.
    const b = rows.find((x) => x.id === baselineId)
    const baseDelta = b === undefined || b.victim.peakRssMb === 0 ? null : b.victim.afterRssMb - b.victim.idleRssMb
    out.push({
      row: r.id,
      target: `back within ${TARGETS.backWithinMb} MB of idle within ${TARGETS.backWithinMs / 1000} s (the application's buffers: shown beside ${baselineId}, not judged)`,
      measured: `${back !== null ? `within ${sec(back)}` : 'not'} (${afterDelta >= 0 ? '+' : ''}${fix(afterDelta)} MB at ${sec(r.afterMs)}); ${
        baseDelta === null
          ? `no ${baselineId} row in this run`
          : `unsent ${baseDelta >= 0 ? '+' : ''}${fix(baseDelta)} MB at ${sec(b?.afterMs)}`
      }`,
      ok: null,
    })
  } else {
    const baseline = r.attack === 'queue' && r.id.endsWith('-unsent')
    out.push({
      row: r.id,
      target: `back within ${TARGETS.backWithinMb} MB of idle within ${TARGETS.backWithinMs / 1000} s of the attackers leaving${baseline ? ' (a baseline: not judged)' : ''}`,
      measured:
        back !== null
          ? `within ${sec(back)} (${fix(v.afterRssMb)} MB, ${afterDelta >= 0 ? '+' : ''}${fix(afterDelta)}, at ${sec(r.afterMs)})`
          : `not within the ${sec(r.afterMs)} watched: ${fix(v.afterRssMb)} MB (+${fix(afterDelta)})`,
      // a window shorter than the target's (--after-ms) cannot tell a slow return from none
      ok:
        baseline || !measured || (back === null && r.afterMs < TARGETS.backWithinMs) ? null : back !== null && back <= TARGETS.backWithinMs,
    })
  }
  if (r.attack === 'queue') {
    const g = v.collected
    out.push({
      row: r.id,
      target: `no message kept at the end: array buffers <= ${TARGETS.keptAfterGcMb} MB after a full collection`,
      measured:
        g === undefined || g === null
          ? 'no figures'
          : `${fix(g.before.arrayBuffersMb)} MB before it, ${fix(g.after.arrayBuffersMb)} MB after (RSS then ${fix(g.after.rssMb)} MB)`,
      ok: g === undefined || g === null ? null : g.after.arrayBuffersMb <= TARGETS.keptAfterGcMb,
    })
  }
  out.push({
    row: r.id,
    target: 'the victim does not crash',
    measured: v.exited === null ? 'alive' : `exited: ${v.exited}`,
    ok: v.exited === null,
  })
  const p = r.pings
  out.push({
    row: r.id,
    target: 'no legitimate ping lost',
    measured: p === null ? 'no figures' : `${int(p.lost)} of ${int(p.sent)} lost, ${int(p.late)} late, p99 ${fix(p.p99Ms)} ms`,
    ok: p === null ? null : p.lost === 0 && p.sent > 0,
  })
  if (r.attack === 'slowloris') {
    const during = r.probes.filter((x) => x.phase === 'attack')
    const ok = during.filter((x) => x.ok && x.ms <= TARGETS.newNodeMs).length
    out.push({
      row: r.id,
      target: `a new node associates within ${TARGETS.newNodeMs / 1000} s during the slow-loris`,
      measured: `${ok} of ${during.length} new nodes within ${TARGETS.newNodeMs / 1000} s, ${probeSummary(during)}`,
      ok: during.length === 0 ? null : ok === during.length,
    })
  }
  if (r.id.startsWith('dial-tcp')) {
    const ok = r.probes.filter((x) => x.ok).length
    out.push({
      row: r.id,
      target: `a new node associates (within ${sec(r.probeTimeoutMs)}), during the attack and after it`,
      measured: `${ok} of ${r.probes.length}, ${probeSummary(r.probes)}`,
      ok: r.probes.length === 0 ? null : ok === r.probes.length,
    })
  }
  if (r.id.startsWith('dial-udp')) {
    const a = r.figures['amplification']
    out.push({
      row: r.id,
      target: `amplification <= ${TARGETS.amplification} (bytes the victim sent a third party per byte the attacker sent)`,
      measured: `${fix(a as number | null, 2)} (${int(r.figures['thirdPartyBytes'] as number)} B for ${int(r.figures['attackerBytes'] as number)} B)`,
      ok: typeof a === 'number' ? a <= TARGETS.amplification : null,
    })
  }
  return out
}

function probeSummary(probes: readonly Probe[]): string {
  if (probes.length === 0) return 'no new node tried'
  const ok = probes.filter((x) => x.ok).map((x) => x.ms)
  const failed = probes.filter((x) => !x.ok)
  const s = [...ok].sort((a, b) => a - b)
  const parts = [`${ok.length}/${probes.length} associated`]
  if (s.length > 0) parts.push(`p50 ${int(s[Math.floor(s.length / 2)])} ms, max ${int(s.at(-1))} ms`)
  if (failed.length > 0) parts.push(`failed: ${failed[0]?.error ?? '?'}${failed.length > 1 ? ` (+${failed.length - 1})` : ''}`)
  return parts.join(', ')
}

/** New nodes of one phase in a few characters: `ok/tried, max ms`. */
function probeCell(probes: readonly Probe[]): string {
  if (probes.length === 0) return '-'
  const ok = probes.filter((x) => x.ok).map((x) => x.ms)
  return `${ok.length}/${probes.length}${ok.length > 0 ? `, ${int(Math.max(...ok))} ms` : ''}`
}

/** What the attack did and what it did to the victim, in one cell. */
export function attackCell(r: RowResult): string {
  const a = r.attacker
  const f = r.figures
  const st = r.victim.stats
  const g = (k: string): Record<string, unknown> => (a[k] ?? {}) as Record<string, unknown>
  switch (r.attack) {
    case 'identities':
    case 'compression': {
      const x = g(r.attack === 'identities' ? 'park' : 'compression')
      const parts = [`${int(x['identities'] as number)} identities sent ${mib(x['bytesSent'])}`]
      if ((x['established'] as number) > 0) parts.push(`${int(x['established'] as number)} established`)
      if ((x['closedByNode'] as number) > 0) parts.push(`${int(x['closedByNode'] as number)} connections closed by the victim`)
      if (f['quarantinedAfterLeave'] !== undefined) parts.push(`${int(f['quarantinedAfterLeave'] as number)} quarantined after leaving`)
      return parts.join(', ')
    }
    case 'dial': {
      const x = g('strangers')
      const parts = [`${int(x['sent'] as number)} envelopes (${int(x['bytesSent'] as number)} B)`]
      if (r.transport !== 'udp') {
        parts.push(`victim opened ${int(st?.outboundSockets)} tcp sockets (the peer's and new nodes' included)`)
        parts.push(`third party: ${int(f['thirdPartyConnections'] as number)} connections`)
      } else {
        parts.push(`third party got ${int(f['thirdPartyDatagrams'] as number)} datagrams, ${int(f['thirdPartyBytes'] as number)} B`)
      }
      return parts.join(', ')
    }
    case 'slowloris': {
      const x = g('slowloris')
      return `${int(x['connects'] as number)} connects (${int(x['connectsPerSecond'] as number)}/s), ${int(x['closedByTarget'] as number)} closed by the victim, median life ${int(x['medianLifetimeMs'] as number)} ms, ${int(x['open'] as number)} open at the end; refusals ${int(st?.events['handshakeFailed']?.occurrences)}`
    }
    case 'queue': {
      const x = g('push')
      if (r.id.endsWith('-unsent'))
        return `allocated ${int(x['sent'] as number)} messages in ${sec(x['ms'] as number)}, nothing sent, the first ${int(f['held'] as number)} held ${sec(f['heldMs'] as number)}`
      return `pushed ${int(x['sent'] as number)} messages in ${sec(x['ms'] as number)}; dropped ${int(f['dropped'] as number)} (queue full ${int(f['droppedQueueFull'] as number)}); receiver quarantined ${f['quarantinedAfterMs'] === null ? 'not within 20 s of the push' : `after ${sec(f['quarantinedAfterMs'] as number)}`}`
    }
    case 'udpflood': {
      const x = g('flood')
      return `${int(x['datagrams'] as number)} datagrams (${mib(x['bytesSent'])}) in ${int(x['elapsedMs'] as number)} ms; the victim delivered ${int(f['delivered'] as number)}`
    }
    case 'fuzz': {
      const x = g('fuzz')
      const refused = st?.events['handshakeFailed']?.occurrences ?? 0
      const dropped = st?.events['dropped']?.events ?? 0
      return `${int(x['frames'] as number)} frames (${int(x['mutated'] as number)} mutated) in ${r.transport === 'udp' ? `${int(x['datagrams'] as number)} datagrams` : `${int(x['connections'] as number)} connections`}, seed ${String(x['seed'] ?? '-')}; victim: ${int(refused)} refusals, ${int(dropped)} dropped events`
    }
  }
}

/** The victim after the full collection that ends a row: RSS, JS heap, array buffers, glibc's heap (MB). */
function collectedCell(r: RowResult): string {
  const g = r.victim.collected
  if (g === undefined || g === null) return '-'
  return `${fix(g.after.rssMb, 0)}, ${fix(g.after.heapUsedMb, 0)}, ${fix(g.after.arrayBuffersMb, 0)}, ${fix(g.mallocHeapMb, 0)}`
}

function rowCells(r: RowResult): string[] {
  const v = r.victim
  const p = r.pings
  return [
    r.label,
    fix(v.idleRssMb, 0),
    `${fix(v.peakRssMb, 0)} (+${fix(v.peakRssMb - v.idleRssMb, 0)})`,
    `${fix(v.afterRssMb, 0)} (${v.afterRssMb >= v.idleRssMb ? '+' : ''}${fix(v.afterRssMb - v.idleRssMb, 0)}) at ${sec(r.afterMs)}`,
    collectedCell(r),
    v.backWithinMs === null ? 'no' : sec(v.backWithinMs),
    p === null ? '-' : `${int(p.sent)}/${int(p.lost)}/${int(p.late)}, ${fix(p.p99Ms, 0)} ms`,
    `${probeCell(r.probes.filter((x) => x.phase === 'attack'))} | ${probeCell(r.probes.filter((x) => x.phase === 'after'))}`,
    `${v.peakSynSent ?? '-'} / ${int(v.idleFds)}→${int(v.peakFds)}`,
    v.exited === null ? 'no' : 'YES',
    `${attackCell(r)}; ${budgetCell(r)}${r.error !== undefined ? `; ERROR ${r.error.split('\n')[0]}` : ''}`,
  ]
}

const HEADERS = [
  'attack',
  'RSS idle MB',
  'peak MB',
  'after MB',
  'full GC then: RSS, JS heap, buffers, glibc heap MB',
  'back ≤20 MB',
  'pings sent/lost/late, p99',
  'new nodes ok, max: attack | after',
  'SYN-SENT / fds',
  'crash',
  'the attack and its effects',
]

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function header(report: HostileReport): string[] {
  const m = report.machine
  return [
    `Hostile input — commit ${report.commit}, ${report.kind} run, node ${m.node}, ${m.nproc} x ${m.cpuModel}, allocator: ${m.allocator ?? 'glibc defaults'}`,
    `load average (1 min) ${fix(report.loadStart, 2)} at the start, ${fix(report.loadEnd, 2)} at the end; each row gives its own`,
  ]
}

/** The terminal report. */
export function renderTables(report: HostileReport): string {
  const out = [...header(report), '']
  out.push(table(HEADERS, report.rows.map(rowCells)), '')
  out.push(
    table(
      ['attack', 'target (issue 13)', 'measured', 'verdict'],
      report.rows.flatMap((r) => checksOf(r, report.rows).map((c) => [r.id, c.target, c.measured, verdict(c.ok)])),
    ),
    '',
  )
  for (const r of report.rows) {
    out.push(
      `${r.id}: load ${fix(r.loadStart, 2)} → ${fix(r.loadEnd, 2)}, ${sec(r.durationMs)}; victim CPU ${fix(r.victim.cpuAttackSec, 1)} s during the attack (${sec(r.attackMs)})`,
    )
    if (r.victim.exited !== null)
      out.push(`  victim exited (${r.victim.exited}): ${(r.victim.exitOutput ?? '').trim().split('\n').slice(-3).join(' | ')}`)
    if (r.error !== undefined) out.push(`  error: ${r.error.split('\n')[0]}`)
    for (const n of r.notes) out.push(`  ${n}`)
  }
  const passed = report.rows.flatMap((r) => checksOf(r, report.rows)).filter((c) => c.ok === true).length
  const total = report.rows.flatMap((r) => checksOf(r, report.rows)).filter((c) => c.ok !== null).length
  out.push('', `targets: ${passed} of ${total} passed`, `total ${fix(report.durationSec, 0)} s`)
  for (const n of report.notes) out.push(n)
  return out.join('\n')
}

/** One entry of the `--json` line. */
export interface JsonCase {
  case: string
  value: number | null
  unit: string
}

export function jsonCases(report: HostileReport): JsonCase[] {
  const cases: JsonCase[] = []
  for (const r of report.rows) {
    const add = (name: string, value: number | null | undefined, unit: string): void => {
      cases.push({ case: `hostile ${r.id} ${name}`, value: value ?? null, unit })
    }
    add('rss idle', r.victim.idleRssMb, 'MB')
    add('rss peak above idle', r.victim.peakRssMb - r.victim.idleRssMb, 'MB')
    add('rss after above idle', r.victim.afterRssMb - r.victim.idleRssMb, 'MB')
    add('back within 20 MB', r.victim.backWithinMs, 'ms')
    add('pings sent', r.pings?.sent, 'count')
    add('pings lost', r.pings?.lost, 'count')
    add('pings p99', r.pings?.p99Ms, 'ms')
    add('new nodes ok', r.probes.filter((x) => x.ok).length, 'count')
    add('new nodes tried', r.probes.length, 'count')
    const ok = r.probes.filter((x) => x.ok).map((x) => x.ms)
    add('new node max', ok.length > 0 ? Math.max(...ok) : null, 'ms')
    add('syn-sent peak', r.victim.peakSynSent, 'count')
    add('fds peak', r.victim.peakFds, 'count')
    add('crashed', r.victim.exited === null ? 0 : 1, 'count')
    for (const [k, v] of Object.entries(r.figures))
      if (typeof v === 'number' || v === null) add(k, v, /Ms$/.test(k) ? 'ms' : k === 'amplification' ? 'ratio' : 'count')
  }
  return cases
}

export function jsonLine(report: HostileReport): string {
  return JSON.stringify({ bench: 'hostile', results: jsonCases(report) })
}

// ---- RESULTS.md ------------------------------------------------------------------------------------

export const SECTION_BEGIN = '<!-- hostile:begin -->'
export const SECTION_END = '<!-- hostile:end -->'
const BLOCK_BEGIN = '<!-- hostile-run '
const BLOCK_END = '<!-- /hostile-run -->'

/** What the comparison table at the top of the section keeps of a block (in its opening comment). */
interface BlockSummary {
  key: string
  kind: string
  commit: string
  date: string
  /** Per row id: the comparison table's cells (see {@link SUMMARY_HEADERS}). */
  cells: Record<string, string[]>
  labels: Record<string, string>
}

/** The columns of the comparison table, after the attack and the run. */
const SUMMARY_HEADERS = [
  'victim RSS MB: idle → peak during the attack',
  'RSS after the attackers left (MB)',
  'legitimate pings answered/sent, p99',
  'new nodes associated/tried, max',
  'fds idle → peak, SYN-SENT',
  "the victim's events",
  'targets',
]

/** New nodes that associated of those that tried (slow-loris: within 2 s during the attack), and the slowest. */
function newNodes(r: RowResult): string {
  const probes = r.attack === 'slowloris' ? r.probes.filter((x) => x.phase === 'attack') : r.probes
  const ok = probes.filter((x) => x.ok && (r.attack !== 'slowloris' || x.ms <= TARGETS.newNodeMs))
  const max = ok.length > 0 ? `, ${int(Math.max(...ok.map((x) => x.ms)))} ms` : ''
  return `${ok.length}/${probes.length}${max}${r.attack === 'slowloris' ? ' (≤ 2 s, during)' : ''}`
}

/** The victim's events: occurrences by name (and how many events stood for them, when fewer). */
function eventsCell(r: RowResult): string {
  const st = r.victim.stats
  if (st === null) return '-'
  const parts = Object.entries(st.events).map(
    ([k, e]) => `${k} ${int(e.occurrences)}${e.events !== e.occurrences ? ` (${int(e.events)} events)` : ''}`,
  )
  return parts.length === 0 ? 'none' : parts.join(', ')
}

/** The victim's memory budget at the end of the row: its peak, what it holds, evictions and refusals. */
export function budgetCell(r: RowResult): string {
  const st = r.victim.stats
  if (st === null) return 'budget: -'
  const m = st.memory
  if (m === null || m === undefined) return 'budget: not available (no remoteMemory() in this build)'
  return `budget ${mib(m.budgetBytes)}: peak ${mib(m.peakBytes)}, ${mib(m.usedBytes)} held at the end, ${int(m.evictions)} evictions, ${int(m.refusals)} refusals`
}

function summaryOf(report: HostileReport): BlockSummary {
  const cells: Record<string, string[]> = {}
  const labels: Record<string, string> = {}
  for (const r of report.rows) {
    const v = r.victim
    const p = r.pings
    const checks = checksOf(r, report.rows).filter((c) => c.ok !== null)
    const passed = checks.filter((c) => c.ok).length
    const extra = r.id.startsWith('dial-udp') ? `; amplification ${fix(r.figures['amplification'] as number | null, 2)}` : ''
    cells[r.id] = [
      `${fix(v.idleRssMb, 0)} → ${fix(v.peakRssMb, 0)} (+${fix(v.peakRssMb - v.idleRssMb, 0)})`,
      `${fix(v.afterRssMb, 0)} (${v.afterRssMb >= v.idleRssMb ? '+' : ''}${fix(v.afterRssMb - v.idleRssMb, 0)}) at ${sec(r.afterMs)}${v.stats !== null ? `; JS heap ${fix(v.stats.heapUsedMb, 0)}, array buffers ${fix(v.stats.arrayBuffersMb, 0)}` : ''}${
        v.collected !== undefined && v.collected !== null ? `; after a full GC: ${collectedCell(r)}` : ''
      }`,
      p === null ? '-' : `${int(p.answered)}/${int(p.sent)}, ${fix(p.p99Ms, 0)} ms`,
      newNodes(r),
      `${int(v.idleFds)} → ${int(v.peakFds)}, ${v.peakSynSent ?? '-'}`,
      `${eventsCell(r)}${extra}; ${budgetCell(r)}`,
      `${passed}/${checks.length} PASS${v.exited !== null ? ', CRASHED' : ''}${r.error !== undefined ? ', ERROR' : ''}`,
    ]
    labels[r.id] = r.label
  }
  return { key: `${report.kind}|${report.commit}`, kind: report.kind, commit: report.commit, date: report.date, cells, labels }
}

function blockOf(report: HostileReport, jsonFile: string): string {
  const s = summaryOf(report)
  const m = report.machine
  const o = report.options
  const lines = [
    `${BLOCK_BEGIN}${JSON.stringify(s)} -->`,
    `### ${report.kind} run, commit ${report.commit}`,
    '',
    `- Command: \`${report.command}\`; ${report.date}; ${fix(report.durationSec, 0)} s; JSON: \`${jsonFile}\``,
    `- Machine: ${m.nproc} x ${m.cpuModel}, ${int(m.totalMemoryMb)} MB RAM, node ${m.node}, allocator: ${m.allocator ?? 'glibc defaults'}; load average (1 min) ${fix(report.loadStart, 2)} at the start, ${fix(report.loadEnd, 2)} at the end (each row's below)`,
    `- Settings: ${o['identities']} identities, hold ${sec(o['holdMs'] as number)}, after-window up to ${sec(o['afterMs'] as number)} (ends once settled for ${sec(o['settledMs'] as number)}), legitimate ping every ${o['pingIntervalMs']} ms (lost after ${sec(o['pingTimeoutMs'] as number)}, late after ${o['pingLateMs']} ms), new nodes every ~0.5 s (timeout ${sec(o['probeTimeoutMs'] as number)}; slow-loris 10 s), attackers from ${o['attackerAddress']}; the victim's remoting settings are the defaults`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...report.rows.map((r) => `| ${rowCells(r).map(cell).join(' | ')} |`),
    '',
    '| attack | target (issue 13) | measured | verdict |',
    '|---|---|---|---|',
    ...report.rows.flatMap((r) =>
      checksOf(r, report.rows).map((c) => `| ${r.id} | ${cell(c.target)} | ${cell(c.measured)} | ${verdict(c.ok)} |`),
    ),
    '',
    "<details><summary>per row: load, CPU, the victim's events and refusals</summary>",
    '',
  ]
  for (const r of report.rows) {
    const st = r.victim.stats
    lines.push(
      `- **${r.id}**: load ${fix(r.loadStart, 2)} → ${fix(r.loadEnd, 2)}; ${sec(r.durationMs)}; attack ${sec(r.attackMs)}, after ${sec(r.afterMs)}; victim CPU ${fix(r.victim.cpuAttackSec)} s during the attack, ${fix(r.victim.cpuAfterSec)} s after${r.error !== undefined ? `; error: ${cell(r.error.split('\n')[0] as string)}` : ''}`,
    )
    if (st !== null) {
      const ev = Object.entries(st.events)
        .map(([k, e]) => `${k} ${int(e.occurrences)}`)
        .join(', ')
      lines.push(
        `  - events: ${ev || 'none'}; drops by kind: ${
          Object.entries(st.drops)
            .map(([k, n]) => `${k} ${int(n)}`)
            .join(', ') || 'none'
        }; associations at the end: ${
          Object.entries(st.associations)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || 'none'
        }; heap ${fix(st.heapUsedMb)} MB, array buffers ${fix(st.arrayBuffersMb)} MB`,
      )
      for (const x of st.refusals.slice(0, r.attack === 'fuzz' ? 12 : 4))
        lines.push(`  - ${int(x.count)} × \`${x.reason.replace(/`/g, "'")}\``)
    }
    for (const n of r.notes) lines.push(`  - ${n}`)
  }
  lines.push('', '</details>', BLOCK_END)
  return lines.join('\n')
}

/** The section: the blocks already there, this run's block replacing one of the same kind and commit. */
export function renderMarkdownSection(existing: string, report: HostileReport, jsonFile: string): string {
  const fresh: ResultsBlock<BlockSummary> = { summary: summaryOf(report), text: blockOf(report, jsonFile) }
  const blocks = mergeResultsBlocks(parseResultsBlocks<BlockSummary>(existing, BLOCK_BEGIN, BLOCK_END), [fresh], (b) => b.summary.key)
  blocks.sort((x, y) => (x.summary.date < y.summary.date ? -1 : x.summary.date > y.summary.date ? 1 : 0))
  const ids: string[] = []
  for (const x of blocks) for (const id of Object.keys(x.summary.cells)) if (!ids.includes(id)) ids.push(id)
  const lines = [
    SECTION_BEGIN,
    '## hostile',
    '',
    'Hostile input (issue 13): one row per attack, each on fresh processes: a victim node in its own process (its RSS from /proc/<pid>/status, its descriptors from /proc/<pid>/fd, its sockets in SYN-SENT from `ss`), a legitimate peer keeping a ping-pong with it, new nodes trying to associate during the attack, attackers in other processes (tests/support/attacks.ts). Written by `bench/hostile.bench.ts --update-results` (or `--from-json`): one block per kind of run and commit; edit outside the markers. MB = 2^20 bytes.',
    '',
    "One line per attack and run (a run is a kind, `quick` or `full`, at a commit): the victim's RSS when idle and its peak during the attack (from the attack's start to the end of the row), its RSS at the end of the watch after the attackers left (`--after-ms`, 30 s, or earlier once it stayed within 20 MB of idle for `--settled-ms`, 10 s), the legitimate ping-pong, new nodes associating during the attack and after it, its descriptors and tcp sockets in SYN-SENT, what it published, and the targets passed (each block below has them one by one).",
    '',
    `| attack | run | ${SUMMARY_HEADERS.join(' | ')} |`,
    `|---|---|${SUMMARY_HEADERS.map(() => '---').join('|')}|`,
    ...ids.flatMap((id) =>
      blocks
        .filter((x) => x.summary.cells[id] !== undefined)
        .map(
          (x) =>
            `| ${cell(id)} | ${x.summary.kind} ${cell(x.summary.commit)} | ${[x.summary.cells[id] ?? []].flat().map(cell).join(' | ')} |`,
        ),
    ),
    '',
  ]
  for (const x of blocks)
    lines.push(
      '<details>',
      `<summary>${x.summary.kind} run, commit ${x.summary.commit} (${x.summary.date.slice(0, 10)}): every table</summary>`,
      '',
      x.text,
      '',
      '</details>',
      '',
    )
  lines.push(SECTION_END)
  return lines.join('\n')
}

/** Replaces the hostile section of RESULTS.md (between the markers), or appends it. */
export function updateResultsMd(path: string, report: HostileReport, jsonFile: string): void {
  replaceResultsSection(path, SECTION_BEGIN, SECTION_END, (existing) => renderMarkdownSection(existing, report, jsonFile))
}
