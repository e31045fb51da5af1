/**
 * The soak's report (bench/soak.bench.ts): tables on stdout, the JSON line, and its section of
 * RESULTS.md, one block per transport and commit (a run replaces the block of its own transport
 * and commit and keeps the others, so that runs before and after a change stand side by side).
 */
import { mdCell, replaceResultsSection } from './report.js'
import type { MachineInfo } from './machine.js'
import { type IntervalRow, type PhaseResult, pct } from './soakRun.js'

/** The target of issue 13: throughput after the churn at least this share of the first interval's. */
export const TARGET_RATIO = 0.9

export interface SoakReport {
  bench: 'soak'
  date: string
  /** Short commit hash, with `+dirty` when packages/ had uncommitted changes. */
  commit: string
  command: string
  durationS: number
  machine: MachineInfo
  options: { minutes: number; baselineMinutes: number; paths: number; clients: number; window: number; intervalS: number; warmupS: number }
  phases: PhaseResult[]
}

export interface TargetCheck {
  transport: string
  /** Round trips/s of the first interval and of the last (after the churn). */
  first: number
  last: number
  ratio: number
  ok: boolean
}

/** The target per churn phase: the last interval's throughput against the first's. */
export function checkTarget(phase: PhaseResult): TargetCheck | undefined {
  if (phase.kind !== 'churn' || phase.intervals.length < 2) return undefined
  const first = (phase.intervals[0] as IntervalRow).perSec
  const last = (phase.intervals[phase.intervals.length - 1] as IntervalRow).perSec
  const ratio = first > 0 ? last / first : 0
  return { transport: phase.transport, first, last, ratio: Math.round(ratio * 1000) / 1000, ok: ratio >= TARGET_RATIO }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const nul = (n: number | null, f: (x: number) => string = String): string => (n === null ? '-' : f(n))
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL')
const minutes = (s: number): string => `${Math.round((s / 60) * 10) / 10} min`

function phaseTitle(p: PhaseResult): string {
  const what = p.kind === 'churn' ? `actors created and stopped, ${int(p.paths)} distinct paths` : 'no churn'
  return `${p.transport} ${p.kind}: ${minutes(p.durationS)}, ${what}, ${p.clients} ping-pong actors x ${p.window} in flight`
}

function intervalTable(p: PhaseResult): string[] {
  const lines = [
    '| interval | end s | round trips/s | paths | compressed A->B | compressed B->A | generation A/B | tables KB A/B | RSS A MB | RSS B MB | lost | load 1m |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of p.intervals) {
    lines.push(
      `| ${r.index} | ${r.endS.toFixed(0)} | ${int(r.perSec)} | ${int(r.paths)} | ${pct(r.compressedAB)} | ${pct(r.compressedBA)} | ` +
        `${nul(r.generationA)}/${nul(r.generationB)} | ${nul(r.compressionKbA, (x) => x.toFixed(0))}/${nul(r.compressionKbB, (x) => x.toFixed(0))} | ` +
        `${r.rssMbA.toFixed(0)} | ${r.rssMbB.toFixed(0)} | ${int(r.lost)} | ${r.load1.toFixed(2)} |`,
    )
  }
  return lines
}

function phaseFooter(p: PhaseResult): string {
  return (
    `Average ${int(p.perSec)} round trips/s over ${int(p.roundTrips)}; decode errors A ${p.decodeErrorsA}, B ${p.decodeErrorsB}; ` +
    `dropped A ${p.droppedA}, B ${p.droppedB}; lost ${int(p.lost)}; dead letters on A ${p.deadLettersA}; ` +
    `load average at start ${p.load.start.join(', ')}, at end ${p.load.end.join(', ')}.`
  )
}

function targetRows(report: SoakReport): string[] {
  const rows: string[] = []
  for (const p of report.phases) {
    const t = checkTarget(p)
    if (t === undefined) continue
    rows.push(
      `| ${p.transport}: throughput after the churn (last interval) >= ${TARGET_RATIO} x the first interval's | ` +
        `${t.ratio.toFixed(2)} (${int(t.last)} vs ${int(t.first)} round trips/s) | ${verdict(t.ok)} |`,
    )
  }
  return rows
}

/** The tables printed on stdout. */
export function renderTables(report: SoakReport): string {
  const out: string[] = []
  for (const p of report.phases) out.push('', phaseTitle(p), '', ...intervalTable(p), '', phaseFooter(p))
  const rows = targetRows(report)
  if (rows.length > 0) out.push('', '| target (issue 13) | measured | verdict |', '|---|---|---|', ...rows)
  return out.join('\n')
}

/** The last stdout line with --json. */
export function jsonLine(report: SoakReport): string {
  const results = report.phases.map((p) => {
    const t = checkTarget(p)
    return {
      case: `soak ${p.transport} ${p.kind}`,
      durationS: p.durationS,
      paths: p.paths,
      perSec: p.perSec,
      perSecByInterval: p.intervals.map((r) => r.perSec),
      compressedAB: p.intervals.map((r) => r.compressedAB),
      rssMbA: Math.max(...p.intervals.map((r) => r.rssMbA)),
      rssMbB: Math.max(...p.intervals.map((r) => r.rssMbB)),
      decodeErrors: p.decodeErrorsA + p.decodeErrorsB,
      ...(t === undefined ? {} : { first: t.first, last: t.last, ratio: t.ratio, target: verdict(t.ok) }),
    }
  })
  return JSON.stringify({ bench: 'soak', commit: report.commit, results })
}

// ---- RESULTS.md ----------------------------------------------------------------------------------

export const SECTION_BEGIN = '<!-- soak:begin (written by bench/soak.bench.ts --update-results; edit outside the markers) -->'
export const SECTION_END = '<!-- soak:end -->'
const BLOCK_BEGIN = '<!-- soak-run '
const BLOCK_END = '<!-- /soak-run -->'

interface Block {
  key: string
  date: string
  summary: string[]
  text: string
}

function blocksOf(section: string): Block[] {
  const blocks: Block[] = []
  const re = /<!-- soak-run (\{.*?\}) -->\n([\s\S]*?)<!-- \/soak-run -->/g
  for (let m = re.exec(section); m !== null; m = re.exec(section)) {
    try {
      const head = JSON.parse(m[1] as string) as { key: string; date: string; summary: string[] }
      blocks.push({ ...head, text: m[2] as string })
    } catch {
      // a block edited by hand beyond recognition is dropped
    }
  }
  return blocks
}

const SUMMARY_HEADERS = [
  'commit',
  'date',
  'transport',
  'churn',
  'paths',
  'first interval rt/s',
  'last interval rt/s',
  'last / first',
  'target',
  'compressed A->B, last interval',
  'no churn rt/s (avg)',
  'peak RSS A/B MB',
  'load 1m (start-end)',
]

function newBlocks(report: SoakReport, jsonFile: string): Block[] {
  const byTransport = new Map<string, PhaseResult[]>()
  for (const p of report.phases) byTransport.set(p.transport, [...(byTransport.get(p.transport) ?? []), p])
  const blocks: Block[] = []
  for (const [transport, phases] of byTransport) {
    const churn = phases.find((p) => p.kind === 'churn')
    const base = phases.find((p) => p.kind === 'baseline')
    const t = churn === undefined ? undefined : checkTarget(churn)
    const last = churn?.intervals[churn.intervals.length - 1]
    const all = phases.flatMap((p) => p.intervals)
    const loads = phases.flatMap((p) => [p.load.start[0] ?? 0, p.load.end[0] ?? 0])
    const summary = [
      report.commit,
      report.date.slice(0, 16).replace('T', ' '),
      transport,
      churn === undefined ? '-' : minutes(churn.durationS),
      churn === undefined ? '-' : int(churn.paths),
      t === undefined ? '-' : int(t.first),
      t === undefined ? '-' : int(t.last),
      t === undefined ? '-' : t.ratio.toFixed(2),
      t === undefined ? '-' : verdict(t.ok),
      last === undefined ? '-' : pct(last.compressedAB),
      base === undefined ? '-' : `${int(base.perSec)} (${minutes(base.durationS)})`,
      `${Math.max(...all.map((r) => r.rssMbA)).toFixed(0)}/${Math.max(...all.map((r) => r.rssMbB)).toFixed(0)}`,
      `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`,
    ]
    const text = [
      `**${transport}, commit ${report.commit}, ${report.date}** (\`${report.command}\`, ${Math.round(report.durationS)} s; JSON: \`${jsonFile}\`)`,
      '',
      ...phases.flatMap((p) => [phaseTitle(p), '', ...intervalTable(p), '', phaseFooter(p), '']),
    ].join('\n')
    blocks.push({ key: `${transport}@${report.commit}`, date: report.date, summary, text })
  }
  return blocks
}

/** The whole soak section: the summary of every kept block, then each block. */
export function renderMarkdownSection(existing: string, report: SoakReport, jsonFile: string): string {
  const fresh = newBlocks(report, jsonFile)
  const keys = new Set(fresh.map((b) => b.key))
  const blocks = [...blocksOf(existing).filter((b) => !keys.has(b.key)), ...fresh].sort((a, b) => a.date.localeCompare(b.date))
  const m = report.machine
  const lines = [
    SECTION_BEGIN,
    '## soak',
    '',
    'Actor churn against compression (issue 13): two actor-system processes over one association, ping-pong at full rate',
    '(a window of pings in flight per ping-pong actor, echoed by an actor on the other node) while the ping-pong actors are',
    'replaced by new ones at a steady rate, so that far more distinct actor paths cross the association than its compression',
    'tables hold; the same ping-pong without churn is the baseline, on fresh systems in the same run. Each phase starts after',
    'an unmeasured warm-up. Target: the last interval (after the churn) reaches at least 0.9 of the first interval.',
    '',
    `- Command: \`pnpm bench:soak [--minutes 10] [--transport tcp,udp] --json --update-results\`; one block per transport and commit below.`,
    `- Machine: ${m.nproc} x ${m.cpuModel}, ${int(m.totalMemoryMb)} MB RAM, ${m.platform}, node ${m.node}. The machine is shared: the load average is recorded with every interval.`,
    '- "compressed A->B": of the actor paths A wrote in envelopes towards B during the interval (recipients and senders), the share written as a compression index ("-": the commit does not report it).',
    '',
    `| ${SUMMARY_HEADERS.join(' | ')} |`,
    `|${SUMMARY_HEADERS.map(() => '---').join('|')}|`,
    ...blocks.map((b) => `| ${b.summary.map(mdCell).join(' | ')} |`),
    '',
  ]
  for (const b of blocks) {
    lines.push(
      `${BLOCK_BEGIN}${JSON.stringify({ key: b.key, date: b.date, summary: b.summary })} -->`,
      '<details>',
      `<summary>${b.key}: every interval</summary>`,
      '',
      b.text.replace(/^<details>\n<summary>.*<\/summary>\n\n/, '').replace(/\n<\/details>\n?$/, ''),
      '</details>',
      BLOCK_END,
      '',
    )
  }
  lines.push(SECTION_END)
  return lines.join('\n')
}

/** Replaces the soak section of RESULTS.md (between the markers), or appends it. */
export function updateResultsMd(path: string, report: SoakReport, jsonFile: string): void {
  replaceResultsSection(path, SECTION_BEGIN, SECTION_END, (existing) => renderMarkdownSection(existing, report, jsonFile))
}
