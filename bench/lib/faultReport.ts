/**
 * What the faults benchmark prints and writes: a table per scenario and transport, a summary,
 * the `--json` line, and the "faults" section of bench/RESULTS.md.
 */
import { mdCell as cell, replaceResultsSection } from './report.js'
import type { MachineInfo } from './machine.js'
import type { MetricRow, ScenarioResult, Transport } from './faultScenarios.js'

export interface FaultsReport {
  bench: 'faults'
  date: string
  command: string
  /** The commit measured. */
  commit: string
  machine: MachineInfo
  mode: 'netns' | 'loopback'
  /** Why partitions were skipped, when they were. */
  modeNote?: string
  options: Record<string, unknown>
  detection: {
    heartbeatIntervalMs: number
    threshold: number
    acceptableHeartbeatPauseMs: number
    minStdDeviationMs: number
    silenceMs: number
    loMs: number
    hiMs: number
  }
  results: ScenarioResult[]
  notes: string[]
  durationSec: number
}

/** One entry of the `--json` line. */
export interface JsonCase {
  case: string
  value: number | null
  unit: string
  skipped?: string
}

const sec = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`
const ms = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US'))

function stats(values: number[] | undefined): { min: number | null; p50: number | null; max: number | null } {
  if (values === undefined || values.length === 0) return { min: null, p50: null, max: null }
  const s = [...values].sort((a, b) => a - b)
  return { min: s[0] as number, p50: s[Math.floor((s.length - 1) / 2)] as number, max: s[s.length - 1] as number }
}

function table(headers: string[], rows: string[][], right: number[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function metricCells(row: MetricRow): string[] {
  const s = stats(row.values)
  return [row.metric, row.count ?? '', ms(s.min), ms(s.p50), ms(s.max), row.note ?? '']
}

function title(r: ScenarioResult): string {
  return `${r.variant} — ${r.transport}, ${r.nodes} nodes${r.victim ? `, victim ${r.victim}` : ''}${r.mesh ? `, full mesh in ${r.mesh.ms} ms${r.mesh.complete ? '' : ' (INCOMPLETE)'}` : ''}`
}

/** One line per scenario and transport: the figures that matter. */
export function headline(r: ScenarioResult): string {
  if (r.skipped !== undefined) return `skipped: ${r.skipped}`
  if (r.error !== undefined) return `error: ${r.error.split('\n')[0]}`
  const f = r.figures
  const term = `Terminated ${f['terminatedCount']}/${r.nodes - 1}${f['terminatedP50Ms'] !== null && f['terminatedP50Ms'] !== undefined ? ` p50 ${sec(f['terminatedP50Ms'])}` : ''}`
  switch (r.scenario) {
    case 'kill':
      return `${term}, max ${sec(f['terminatedMaxMs'])}`
    case 'stop':
      return `${term}; resumed node quarantined ${f['resumedQuarantinedPeers']} peers${f['resumedQuarantinedByPeers'] ? `, was told ${f['resumedQuarantinedByPeers']} quarantined it` : ''}; resolveOne+ask after resume: ${f['probesFromResumedOk']}/${r.nodes - 1} out, ${f['probesToResumedOk']}/${r.nodes - 1} in`
    case 'partition': {
      const rec = (n: unknown, max: unknown): string =>
        `${n}/${r.nodes - 1}${max !== null && max !== undefined ? ` (max ${sec(max as number)})` : ''}`
      return `${term}; recovered in ${rec(f['recoveredToPartitioned'], f['recoveryToPartitionedMaxMs'])}, out ${rec(f['recoveredFromPartitioned'], f['recoveryFromPartitionedMaxMs'])}; stream ${f['streamDelivered']}/${f['streamSent']} delivered`
    }
    case 'restart':
      return `${f['probesOk']}/${f['probesOf']} ok with one resolveOne+ask${f['successP50Ms'] !== null ? `, p50 ${sec(f['successP50Ms'])}, max ${sec(f['successMaxMs'])}` : ''}${f['probesOk'] !== f['probesOf'] ? `; a second attempt: ${f['secondAttemptsOk']}/${(f['probesOf'] as number) - (f['probesOk'] as number)} ok` : ''}`
  }
}

export function detectionLine(report: FaultsReport): string {
  const d = report.detection
  return `failure detector: heartbeat ${d.heartbeatIntervalMs} ms, threshold ${d.threshold}, acceptable pause ${d.acceptableHeartbeatPauseMs} ms, min std deviation ${d.minStdDeviationMs} ms: phi reaches the threshold after ${d.silenceMs} ms of silence, so a silent node should be declared unreachable ${d.loMs}-${d.hiMs} ms after it went silent`
}

/** The terminal report. */
export function renderTables(report: FaultsReport): string {
  const m = report.machine
  const out: string[] = [
    `Faults — commit ${report.commit}, ${report.mode === 'netns' ? 'one network namespace per node' : 'all nodes on 127.0.0.1'}, node ${m.node}, ${m.nproc} x ${m.cpuModel}`,
    detectionLine(report),
  ]
  if (report.modeNote !== undefined) out.push(`partitions skipped: ${report.modeNote}`)
  out.push('')
  for (const r of report.results) {
    out.push(`== ${title(r)}`)
    if (r.skipped !== undefined) {
      out.push(`skipped: ${r.skipped}`, '')
      continue
    }
    if (r.error !== undefined) out.push(`error: ${r.error.split('\n')[0]}`)
    if (r.rows.length > 0) out.push(table(['metric', 'count', 'min ms', 'p50 ms', 'max ms', 'note'], r.rows.map(metricCells), [2, 3, 4]))
    out.push('')
  }
  const transports = [...new Set(report.results.map((r) => r.transport))]
  const variants = [...new Set(report.results.map((r) => r.variant))]
  out.push('Summary')
  for (const v of variants) {
    for (const t of transports) {
      const r = report.results.find((x) => x.variant === v && x.transport === t)
      if (r !== undefined) out.push(`  ${`${v} ${t}`.padEnd(32)} ${headline(r)}`)
    }
  }
  for (const n of report.notes) out.push('', n)
  return out.join('\n')
}

/** The cases of the `--json` line. */
export function jsonCases(report: FaultsReport): JsonCase[] {
  const cases: JsonCase[] = []
  for (const r of report.results) {
    const prefix = `faults ${r.transport} ${r.variant}`
    if (r.skipped !== undefined || r.error !== undefined) {
      cases.push({ case: prefix, value: null, unit: '', skipped: r.skipped ?? `error: ${(r.error as string).split('\n')[0]}` })
      continue
    }
    for (const [k, v] of Object.entries(r.figures)) cases.push({ case: `${prefix} ${k}`, value: v, unit: /Ms$/.test(k) ? 'ms' : 'count' })
  }
  return cases
}

export function jsonLine(report: FaultsReport): string {
  return JSON.stringify({ bench: 'faults', results: jsonCases(report) })
}

// ---- RESULTS.md ------------------------------------------------------------------------------------

export const SECTION_BEGIN = '<!-- faults:begin -->'
export const SECTION_END = '<!-- faults:end -->'

export function renderMarkdownSection(report: FaultsReport, jsonFile: string): string {
  const m = report.machine
  const transports = [...new Set(report.results.map((r) => r.transport))]
  const variants = [...new Set(report.results.map((r) => r.variant))]
  const lines: string[] = [
    SECTION_BEGIN,
    '## faults',
    '',
    'Node crashes, stops, partitions and restarts in a cluster of actor systems, one process per node (written by `bench/faults.bench.ts --update-results`; edit outside the markers).',
    '',
    `- Command: \`${report.command}\` on commit ${report.commit}; ${report.durationSec.toFixed(0)} s; JSON: \`${jsonFile}\``,
    `- Machine: ${m.nproc} x ${m.cpuModel}, ${m.totalMemoryMb} MB RAM, ${m.platform}, node ${m.node}; ${report.date}`,
    `- Network: ${report.mode === 'netns' ? "one network namespace per node, veth pairs to one bridge, 10.77.x.y/16, permanent neighbour entries; a partition takes the bridge-side end of the node's veth down" : `all nodes on 127.0.0.1; partitions skipped (${report.modeNote ?? ''})`}`,
    `- ${detectionLine(report)} (other remoting settings: defaults)`,
    '- Each scenario runs on a fresh cluster whose nodes all watch /user/echo on every other node; the victim is node N1, the observer of the message streams N0. Times are Date.now() stamps of the nodes (one machine, one clock).',
    '',
    `| scenario | ${transports.join(' | ')} |`,
    `|---|${transports.map(() => '---').join('|')}|`,
  ]
  for (const v of variants) {
    lines.push(
      `| ${v} | ${transports
        .map((t) => {
          const r = report.results.find((x) => x.variant === v && x.transport === t)
          return r ? cell(headline(r)) : ''
        })
        .join(' | ')} |`,
    )
  }
  lines.push('')
  for (const t of transports as Transport[]) {
    lines.push(`<details><summary>${t}: every scenario's table</summary>`, '')
    for (const r of report.results.filter((x) => x.transport === t)) {
      lines.push(`**${cell(title(r))}**`, '')
      if (r.skipped !== undefined) {
        lines.push(`skipped: ${r.skipped}`, '')
        continue
      }
      if (r.error !== undefined) lines.push(`error: ${cell(r.error.split('\n')[0] as string)}`, '')
      if (r.rows.length === 0) continue
      lines.push('| metric | count | min ms | p50 ms | max ms | note |', '|---|---|---:|---:|---:|---|')
      for (const row of r.rows) lines.push(`| ${metricCells(row).map(cell).join(' | ')} |`)
      lines.push('')
    }
    lines.push('</details>', '')
  }
  for (const n of report.notes) lines.push(n, '')
  lines.push(SECTION_END)
  return lines.join('\n')
}

/** Replaces the faults section of RESULTS.md (between the markers), or appends it. */
export function updateResultsMd(path: string, section: string): void {
  replaceResultsSection(path, SECTION_BEGIN, SECTION_END, () => section)
}
