/**
 * Everything the benchmark prints or writes: terminal tables, the `--json` line, the JSON file,
 * the SVG chart (hand-written, no dependency) and the "pingpong" section of bench/RESULTS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { HandshakeRow, SessionsRow } from './dtls.js'
import type { MachineInfo, MemoryReport } from './machine.js'
import { checkTargets, verdict } from './targets.js'
import type { LatencyResult, OneWayResult, PingPongResult, Transport } from './workloads.js'

export interface PingPongRow {
  transport: Transport
  clients: number
  raw: PingPongResult | null
  project: (PingPongResult & { dropped: number }) | null
  /** Why the project side has no figure (never a made-up one). */
  skipped?: string
  rawError?: string
  /** msgs/s of every round; `raw` and `project` are the best round of each. */
  rawRounds?: number[]
  projectRounds?: number[]
}

export interface LatencyRow {
  transport: Transport
  payloadBytes: number
  raw: LatencyResult | null
  project: LatencyResult | null
  skipped?: string
  rawError?: string
}

export interface OneWayRow {
  transport: Transport
  payloadBytes: number
  raw: OneWayResult | null
  project: (OneWayResult & { dropped: number }) | null
  skipped?: string
  rawError?: string
}

export interface MemoryRow extends MemoryReport {
  role: string
}

export interface Report {
  bench: 'pingpong'
  date: string
  command: string
  mode: 'two processes' | 'in-process'
  machine: MachineInfo
  options: Record<string, unknown>
  pingpong: PingPongRow[]
  latency: LatencyRow[]
  oneway: OneWayRow[]
  memory: MemoryRow[]
  memoryLimitMb: number
  /** Handshake times of fresh sessions (dtls, and tls for comparison), when dtls ran. */
  handshakes?: HandshakeRow[]
  /** RSS of side B with 1,000 DTLS sessions open (not with --quick). */
  sessions?: SessionsRow
  notes: string[]
  durationSec: number
}

/** One entry of the `--json` line. */
export interface JsonCase {
  case: string
  value: number | null
  unit: string
  baseline: number | null
  ratio: number | null
  skipped?: string
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000

function jsonCase(
  name: string,
  unit: string,
  value: number | null | undefined,
  baseline: number | null | undefined,
  skipped?: string,
): JsonCase {
  const v = value ?? null
  const b = baseline ?? null
  const out: JsonCase = { case: name, value: v, unit, baseline: b, ratio: v !== null && b !== null && b > 0 ? round3(v / b) : null }
  if (v === null && skipped !== undefined) out.skipped = skipped
  return out
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}B`
}

/** The cases of the `--json` line, in run order. */
export function jsonCases(report: Report): JsonCase[] {
  const cases: JsonCase[] = []
  for (const r of report.pingpong) {
    cases.push(jsonCase(`pingpong ${r.transport} N=${r.clients}`, 'msgs/s', r.project?.msgsPerSec, r.raw?.msgsPerSec, r.skipped))
  }
  for (const r of report.latency) {
    for (const p of ['p50', 'p99'] as const) {
      cases.push(jsonCase(`latency ${r.transport} ${p}`, 'us', r.project?.[p], r.raw?.[p], r.skipped))
    }
  }
  for (const r of report.oneway) {
    cases.push(
      jsonCase(`oneway ${r.transport} ${sizeLabel(r.payloadBytes)}`, 'msgs/s', r.project?.msgsPerSec, r.raw?.msgsPerSec, r.skipped),
    )
  }
  for (const h of report.handshakes ?? []) cases.push(jsonCase(`handshake ${h.transport} p50`, 'ms', h.p50Ms, undefined, undefined))
  if (report.sessions !== undefined) {
    cases.push(
      jsonCase(
        `dtls server RSS with ${report.sessions.sessions} sessions`,
        'MB',
        report.sessions.rssAfterMb,
        report.sessions.rssBeforeMb,
        undefined,
      ),
    )
  }
  return cases
}

/** The dtls figures that are no ping-pong row: dtls against udp, handshake times, RSS per session. */
function dtlsLines(report: Report): string[] {
  const out: string[] = []
  const best = (t: string): { n: number; v: number } | undefined =>
    report.pingpong
      .filter((r) => r.transport === t && r.project)
      .map((r) => ({ n: r.clients, v: r.project!.msgsPerSec }))
      .reduce<{ n: number; v: number } | undefined>((a, b) => (a === undefined || b.v > a.v ? b : a), undefined)
  const d = best('dtls')
  const u = best('udp')
  if (d !== undefined && u !== undefined) {
    const perN = report.pingpong
      .filter((r) => r.transport === 'dtls' && r.project)
      .map((r) => {
        const udp = report.pingpong.find((x) => x.transport === 'udp' && x.clients === r.clients)?.project?.msgsPerSec
        return udp ? `N=${r.clients} ${(r.project!.msgsPerSec / udp).toFixed(2)}` : undefined
      })
      .filter((x) => x !== undefined)
    out.push(
      `helios dtls (mtu ${String(report.options['dtlsMtu'] ?? 1280)}) / helios udp ping-pong, same run: ${perN.join(', ')}; best N ${int(d.v)} msgs/s (N=${d.n}) / ${int(u.v)} (N=${u.n}) = ${(d.v / u.v).toFixed(2)}`,
    )
  }
  const lat = report.latency.find((r) => r.transport === 'dtls')?.project
  const udpLat = report.latency.find((r) => r.transport === 'udp')?.project
  if (lat && udpLat)
    out.push(`latency dtls / udp (helios): p50 ${num(lat.p50)} / ${num(udpLat.p50)} us, p99 ${num(lat.p99)} / ${num(udpLat.p99)} us`)
  for (const h of report.handshakes ?? []) {
    out.push(
      `handshake ${h.transport} (${h.count} fresh sessions, mutual certificates${h.transport === 'dtls' ? ', cookie exchange' : ''}): p50 ${h.p50Ms.toFixed(2)} ms, p90 ${h.p90Ms.toFixed(2)} ms, p99 ${h.p99Ms.toFixed(2)} ms`,
    )
  }
  const s = report.sessions
  if (s !== undefined) {
    out.push(
      `dtls server with ${int(s.sessions)} sessions: RSS ${s.rssBeforeMb.toFixed(1)} -> ${s.rssAfterMb.toFixed(1)} MB (${s.kbPerSession.toFixed(1)} KB per session), V8 heap ${s.heapBeforeMb.toFixed(1)} -> ${s.heapAfterMb.toFixed(1)} MB, opened in ${s.openSec.toFixed(1)} s`,
    )
  }
  return out
}

/** The exact last line printed with `--json`. */
export function jsonLine(report: Report): string {
  return JSON.stringify({ bench: 'pingpong', results: jsonCases(report) })
}

// ---- terminal tables ------------------------------------------------------------------------

const int = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US'))
const num = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined ? '-' : n.toFixed(digits))
const ratio = (v: number | null | undefined, b: number | null | undefined): string =>
  v === null || v === undefined || b === null || b === undefined || b === 0 ? '-' : (v / b).toFixed(2)

function table(headers: string[], rows: string[][], alignLeft = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const mark = (r: { capped: boolean } | null): string => (r?.capped ? '*' : '')

/** The human-readable report. */
export function renderTables(report: Report): string {
  const out: string[] = []
  const m = report.machine
  out.push(
    `RemotePingPong — ${report.mode}, node ${m.node}, ${m.nproc} x ${m.cpuModel}, msgpackr native: ${m.msgpackrNative ? 'yes' : 'no'}`,
    `window ${report.options['window']}, ${int(report.options['replies'] as number)} replies per client, case cap ${report.options['maxCaseMs']} ms, best of ${report.options['rounds']} round(s)`,
    '',
  )
  if (report.pingpong.length > 0) {
    out.push(
      table(
        ['case', 'msgs', 'raw ms', 'raw msgs/s', 'helios ms', 'helios msgs/s', 'ratio'],
        report.pingpong.map((r) => [
          `pingpong ${r.transport} N=${r.clients}`,
          int(r.raw?.totalMessages),
          num(r.raw?.elapsedMs, 0) + mark(r.raw),
          r.raw ? int(r.raw.msgsPerSec) : `error: ${r.rawError ?? '?'}`,
          r.project ? num(r.project.elapsedMs, 0) + mark(r.project) : '-',
          r.project ? int(r.project.msgsPerSec) : 'skipped',
          ratio(r.project?.msgsPerSec, r.raw?.msgsPerSec),
        ]),
      ),
      '',
    )
  }
  if (report.latency.length > 0) {
    const rows: string[][] = []
    for (const r of report.latency) {
      for (const [side, l] of [
        ['raw', r.raw],
        ['helios', r.project],
      ] as const) {
        rows.push([
          `latency ${r.transport} ${sizeLabel(r.payloadBytes)} ${side}`,
          l ? int(l.count) : '-',
          num(l?.p50),
          num(l?.p90),
          num(l?.p99),
          num(l?.p999),
          num(l?.max),
          side === 'helios' ? `${ratio(r.project?.p50, r.raw?.p50)} / ${ratio(r.project?.p99, r.raw?.p99)}` : '',
        ])
      }
    }
    out.push(table(['round trip, one in flight (us)', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max', 'p50/p99 ratio'], rows), '')
  }
  if (report.oneway.length > 0) {
    out.push(
      table(
        ['one-way', 'raw msgs/s', 'raw MB/s', 'helios msgs/s', 'helios MB/s', 'ratio'],
        report.oneway.map((r) => [
          `oneway ${r.transport} ${sizeLabel(r.payloadBytes)}`,
          r.raw ? int(r.raw.msgsPerSec) + mark(r.raw) : `error: ${r.rawError ?? '?'}`,
          num(r.raw?.mbPerSec),
          r.project ? int(r.project.msgsPerSec) + mark(r.project) : 'skipped',
          num(r.project?.mbPerSec),
          ratio(r.project?.msgsPerSec, r.raw?.msgsPerSec),
        ]),
      ),
      '',
    )
  }
  out.push(...dtlsLines(report).map((l) => l.replace(/`/g, '')), ...(report.handshakes !== undefined ? [''] : []))
  out.push(
    table(
      ['process', 'pid', 'rss at start MB', 'rss at end MB', 'peak rss MB', `< ${report.memoryLimitMb} MB`],
      report.memory.map((r) => [
        r.role,
        String(r.pid),
        num(r.startRssMb),
        num(r.rssMb),
        num(r.maxRssMb),
        r.maxRssMb < report.memoryLimitMb ? 'ok' : 'EXCEEDED',
      ]),
    ),
  )
  out.push(
    '',
    table(
      ['target (issue 5)', 'measured', 'verdict'],
      checkTargets(report).map((c) => [c.target, c.measured, verdict(c.ok)]),
      3,
    ),
    '',
  )
  const skipped = [
    ...new Set([...report.pingpong, ...report.latency, ...report.oneway].map((r) => r.skipped).filter((s) => s !== undefined)),
  ]
  for (const s of skipped) out.push(`helios side skipped: ${s}`)
  for (const r of report.pingpong)
    if (r.rawError !== undefined) out.push(`raw pingpong ${r.transport} N=${r.clients} failed: ${r.rawError}`)
  for (const r of report.latency) if (r.rawError !== undefined) out.push(`raw latency ${r.transport} failed: ${r.rawError}`)
  for (const r of report.oneway)
    if (r.rawError !== undefined) out.push(`raw oneway ${r.transport} ${sizeLabel(r.payloadBytes)} failed: ${r.rawError}`)
  const lossy = report.pingpong.filter((r) => (r.raw?.lost ?? 0) > 0 || (r.project?.lost ?? 0) > 0)
  for (const r of lossy)
    out.push(`lost (counted after a ${'stall'}): ${r.transport} N=${r.clients} raw ${r.raw?.lost ?? 0}, helios ${r.project?.lost ?? 0}`)
  if ([...report.pingpong].some((r) => r.raw?.capped || r.project?.capped)) {
    out.push('* capped: the case hit its time cap; the rate is over the replies received until then')
  }
  for (const n of report.notes) out.push(n)
  out.push(`total ${report.durationSec.toFixed(1)} s`)
  return out.join('\n')
}

// ---- SVG --------------------------------------------------------------------------------------

interface Series {
  name: string
  color: string
  values: (number | null)[]
}

const RAW_COLOR = '#9aa5b1'
const PROJECT_COLOR = '#2f6fde'

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`
  return n >= 10 ? n.toFixed(0) : n.toFixed(1)
}

/** A round tick step (1, 2, 2.5 or 5 x 10^k) so that four steps cover `x`. */
function niceTick(x: number): number {
  if (x <= 0) return 1
  const raw = x / 4
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p
  return 10 * p
}

function clip(text: string, width: number, charWidth = 5.6): string {
  const max = Math.floor(width / charWidth)
  return text.length > max ? `${text.slice(0, Math.max(0, max - 3))}...` : text
}

interface PanelOptions {
  /** Log-scale value axis (latency percentiles span orders of magnitude). */
  log?: boolean
  /** Text under each category (e.g. the ratio), or '' for none. */
  footer?: string[]
}

/** A grouped bar chart panel at (x, y). */
function barPanel(
  x: number,
  y: number,
  w: number,
  h: number,
  title: string,
  subtitle: string,
  categories: string[],
  series: Series[],
  options: PanelOptions = {},
): string {
  const left = 46
  const top = 36
  const bottom = options.footer ? 34 : 22
  const plotW = w - left - 10
  const plotH = h - top - bottom
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && v > 0))
  const parts: string[] = [`<g transform="translate(${x},${y})">`]
  parts.push(`<text x="${left}" y="14" class="t">${esc(clip(title, w - left, 7))}</text>`)
  if (subtitle) parts.push(`<text x="${left}" y="28" class="s">${esc(clip(subtitle, w - left))}</text>`)
  let scale: (v: number) => number
  if (options.log) {
    const lo = 10 ** Math.floor(Math.log10(all.length > 0 ? Math.min(...all) : 1))
    const hi = 10 ** Math.ceil(Math.log10(all.length > 0 ? Math.max(...all) * 1.0001 : 10))
    const span = Math.max(1, Math.log10(hi) - Math.log10(lo))
    scale = (v) => (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span
    for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
      const yy = top + plotH - plotH * scale(10 ** e)
      parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" class="g"/>`)
      parts.push(`<text x="${left - 4}" y="${(yy + 3).toFixed(1)}" class="a" text-anchor="end">${compact(10 ** e)}</text>`)
    }
  } else {
    const tick = niceTick(all.length > 0 ? Math.max(...all) : 1)
    const max = tick * 4
    scale = (v) => v / max
    for (let i = 0; i <= 4; i++) {
      const yy = top + plotH - (plotH * i) / 4
      parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" class="g"/>`)
      parts.push(`<text x="${left - 4}" y="${yy + 3}" class="a" text-anchor="end">${compact(tick * i)}</text>`)
    }
  }
  const groupW = plotW / Math.max(1, categories.length)
  const barW = Math.min(22, (groupW * 0.8) / Math.max(1, series.length))
  const labels = barW >= 20
  categories.forEach((cat, ci) => {
    const gx = left + ci * groupW + (groupW - barW * series.length) / 2
    series.forEach((s, si) => {
      const v = s.values[ci] ?? null
      const bx = gx + si * barW
      if (v === null) {
        parts.push(`<text x="${(bx + barW / 2).toFixed(1)}" y="${top + plotH - 3}" class="na" text-anchor="middle">n/a</text>`)
        return
      }
      const bh = Math.max(1, scale(v) * plotH)
      const by = top + plotH - bh
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name} ${cat}: ${compact(v)}`)}</title></rect>`,
      )
      if (labels)
        parts.push(`<text x="${(bx + barW / 2).toFixed(1)}" y="${(by - 2).toFixed(1)}" class="v" text-anchor="middle">${compact(v)}</text>`)
    })
    const cx = left + ci * groupW + groupW / 2
    parts.push(`<text x="${cx.toFixed(1)}" y="${top + plotH + 13}" class="a" text-anchor="middle">${esc(cat)}</text>`)
    const foot = options.footer?.[ci]
    if (foot) parts.push(`<text x="${cx.toFixed(1)}" y="${top + plotH + 26}" class="r" text-anchor="middle">${esc(foot)}</text>`)
  })
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" class="ax"/>`)
  parts.push('</g>')
  return parts.join('')
}

const ratioText = (v: number | null | undefined, b: number | null | undefined): string =>
  v === null || v === undefined || b === null || b === undefined || b === 0 ? '' : `x${(v / b).toFixed(2)}`

function shortReason(rows: { skipped?: string }[]): string {
  const s = rows.find((r) => r.skipped !== undefined)?.skipped
  return s ? `helios: ${s.length > 60 ? `${s.slice(0, 57)}...` : s}` : ''
}

/** The chart embedded by bench/RESULTS.md. */
export function renderSvg(report: Report): string {
  const width = 960
  const panelH = 230
  const transports = [...new Set(report.pingpong.map((r) => r.transport))]
  const latencyTransports = [...new Set(report.latency.map((r) => r.transport))]
  const rows: string[] = []
  let y = 44
  if (transports.length > 0) {
    const pw = width / transports.length
    transports.forEach((t, i) => {
      const rs = report.pingpong.filter((r) => r.transport === t)
      rows.push(
        barPanel(
          i * pw,
          y,
          pw,
          panelH,
          `RemotePingPong ${t}: msgs/s per N`,
          shortReason(rs),
          rs.map((r) => `N=${r.clients}`),
          [
            { name: 'raw', color: RAW_COLOR, values: rs.map((r) => r.raw?.msgsPerSec ?? null) },
            { name: 'helios', color: PROJECT_COLOR, values: rs.map((r) => r.project?.msgsPerSec ?? null) },
          ],
          { footer: rs.map((r) => ratioText(r.project?.msgsPerSec, r.raw?.msgsPerSec)) },
        ),
      )
    })
    y += panelH + 10
  }
  const lower: { title: string; sub: string; cats: string[]; series: Series[]; options: PanelOptions }[] = []
  for (const t of latencyTransports) {
    const r = report.latency.find((l) => l.transport === t)!
    const pick = (l: LatencyResult | null): (number | null)[] => (l ? [l.p50, l.p90, l.p99, l.p999] : [null, null, null, null])
    lower.push({
      title: `Round trip ${t} (us, log)`,
      sub: shortReason([r]),
      cats: ['p50', 'p90', 'p99', 'p99.9'],
      series: [
        { name: 'raw', color: RAW_COLOR, values: pick(r.raw) },
        { name: 'helios', color: PROJECT_COLOR, values: pick(r.project) },
      ],
      options: {
        log: true,
        footer: [
          ratioText(r.project?.p50, r.raw?.p50),
          ratioText(r.project?.p90, r.raw?.p90),
          ratioText(r.project?.p99, r.raw?.p99),
          ratioText(r.project?.p999, r.raw?.p999),
        ],
      },
    })
  }
  if (report.oneway.length > 0) {
    lower.push({
      title: 'One-way msgs/s (log)',
      sub: report.oneway.map((r) => `${sizeLabel(r.payloadBytes)}: raw ${num(r.raw?.mbPerSec)} MB/s`).join(', '),
      cats: report.oneway.map((r) => `${r.transport} ${sizeLabel(r.payloadBytes)}`),
      series: [
        { name: 'raw', color: RAW_COLOR, values: report.oneway.map((r) => r.raw?.msgsPerSec ?? null) },
        { name: 'helios', color: PROJECT_COLOR, values: report.oneway.map((r) => r.project?.msgsPerSec ?? null) },
      ],
      options: { log: true, footer: report.oneway.map((r) => ratioText(r.project?.msgsPerSec, r.raw?.msgsPerSec)) },
    })
  }
  const perRow = Math.min(4, Math.max(1, lower.length))
  for (let i = 0; i < lower.length; i += perRow) {
    const chunk = lower.slice(i, i + perRow)
    const pw = width / perRow
    chunk.forEach((p, j) => {
      rows.push(barPanel(j * pw, y, pw, panelH, p.title, p.sub, p.cats, p.series, p.options))
    })
    y += panelH + 10
  }
  const m = report.machine
  const height = y + 8
  const header =
    `<text x="12" y="18" class="h">helios-ts RemotePingPong — ${esc(report.date.slice(0, 16).replace('T', ' '))} UTC — ${esc(report.mode)}</text>` +
    `<text x="12" y="34" class="s">${esc(`${m.nproc} x ${m.cpuModel}, node ${m.node}, msgpackr native ${m.msgpackrNative ? 'on' : 'off'}; grey = raw framed sockets, blue = helios, xR = helios/raw`)}</text>` +
    `<rect x="${width - 150}" y="8" width="10" height="10" fill="${RAW_COLOR}"/><text x="${width - 136}" y="17" class="a">raw</text>` +
    `<rect x="${width - 90}" y="8" width="10" height="10" fill="${PROJECT_COLOR}"/><text x="${width - 76}" y="17" class="a">helios</text>`
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.h{font-size:14px;font-weight:600}.t{font-size:12px;font-weight:600}.s{font-size:10px;fill:#555}.a{font-size:10px;fill:#333}.na{font-size:9px;fill:#999}.v{font-size:8px;fill:#333}.r{font-size:9px;fill:#2f6fde}.g{stroke:#e3e3e3}.ax{stroke:#888}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    header,
    ...rows,
    '</svg>',
    '',
  ].join('\n')
}

// ---- RESULTS.md -------------------------------------------------------------------------------

export const SECTION_BEGIN = '<!-- pingpong:begin (written by bench/pingpong.bench.ts --update-results; edit outside the markers) -->'
export const SECTION_END = '<!-- pingpong:end -->'

/** The markdown of the "pingpong" section: machine, command, figures, chart. */
export function renderMarkdownSection(report: Report, jsonFile: string): string {
  const m = report.machine
  const lines: string[] = [
    SECTION_BEGIN,
    '## pingpong',
    '',
    `RemotePingPong (port of Akka.NET's remoting benchmark), round-trip latency and one-way throughput, @helios/actors against a raw baseline measured in the same run: hand-written u32-BE-framed sockets with msgpackr pack/unpack of the same message, one connection for all clients, replies batched per socket read (written before the read callback returns), other writes per tick, no actors.`,
    '',
    `- Command: \`${report.command}\` (${report.mode}); ${report.durationSec.toFixed(0)} s; JSON: \`${jsonFile}\``,
    `- Machine: ${m.nproc} x ${m.cpuModel}, ${m.totalMemoryMb} MB RAM, ${m.platform}, node ${m.node}, msgpackr native addon ${m.msgpackrNative ? 'active' : 'NOT active'}; ${report.date}`,
    `- Pattern: window ${report.options['window']} per client, ${int(report.options['replies'] as number)} replies per client, total = N x replies x 2; a case stops at ${report.options['maxCaseMs']} ms and then reports the rate over what it received (marked *); each side's best of ${report.options['rounds']} round(s), rounds alternating which side goes first (every round is in the JSON).`,
    '- The machine has 2 cores shared with other work: absolute figures are noisy, ratios from the same run are what count.',
    '',
    '<details><summary>How it is measured</summary>',
    '',
    '- Side A (benchmark actors / raw clients) runs in the parent, side B (echo actors / raw servers) in a child process started with `node --import tsx` (`--in-process`: both in one process). Raw and helios cases alternate per N so that drift on the shared machine hits both alike; each transport is warmed up (5 clients, ~1 s) before its first measured case.',
    '- RemotePingPong: per client an echo actor on B and a benchmark actor on A that resolves it with `actorSelection(path).resolveOne`, keeps 50 "hit" strings in flight and sends one more per reply. Raw: the same with `[client, "hit"]` frames over one connection; the echo side unpacks each frame and packs it again.',
    '- Latency: one request in flight, `[seq, 100-byte string]`, echoed; per side the round with the lowest p50 (all percentiles from that round); 2,000 warm-up round trips (500 with --quick) are not recorded; hdr-histogram, microseconds. The raw latency client writes each request at once; the raw echo server writes its reply at the end of the read that brought the request.',
    '- One-way (best of the rounds, like ping-pong): 100 B and 4 KiB strings (4 KiB: a third as many) to a sink that acks cumulatively every min(500, window/4) messages; at most 2 MiB (and 2,000 messages) unacknowledged; a fin returns the count received. Preceded by an unreported run of a fifth of the messages.',
    "- udp (and any helios case that reports 'dropped' events): when nothing arrives for 200 ms, what was in flight is counted lost and the window is sent again.",
    '- `--max-case-ms 600000` restores exactly 100,000 replies per client (a full run then takes far longer than 5 minutes).',
    '',
    '</details>',
    '',
    '![pingpong chart](results/pingpong.svg)',
    '',
  ]
  if (report.pingpong.length > 0) {
    lines.push('| case | raw msgs/s | helios msgs/s | ratio |', '|---|---:|---:|---:|')
    for (const r of report.pingpong) {
      lines.push(
        `| pingpong ${r.transport} N=${r.clients} | ${int(r.raw?.msgsPerSec)}${mark(r.raw)} | ${r.project ? int(r.project.msgsPerSec) + mark(r.project) : 'skipped'} | ${ratio(r.project?.msgsPerSec, r.raw?.msgsPerSec)} |`,
      )
    }
    lines.push('')
  }
  if (report.latency.length > 0) {
    lines.push('| round trip, one in flight (us) | p50 | p90 | p99 | p99.9 | max |', '|---|---:|---:|---:|---:|---:|')
    for (const r of report.latency) {
      for (const [side, l] of [
        ['raw', r.raw],
        ['helios', r.project],
      ] as const) {
        lines.push(
          `| ${r.transport} ${sizeLabel(r.payloadBytes)} ${side} | ${num(l?.p50)} | ${num(l?.p90)} | ${num(l?.p99)} | ${num(l?.p999)} | ${num(l?.max)} |`,
        )
      }
    }
    lines.push('')
  }
  if (report.oneway.length > 0) {
    lines.push('| one-way | raw msgs/s | raw MB/s | helios msgs/s | helios MB/s | ratio |', '|---|---:|---:|---:|---:|---:|')
    for (const r of report.oneway) {
      lines.push(
        `| ${r.transport} ${sizeLabel(r.payloadBytes)} | ${int(r.raw?.msgsPerSec)} | ${num(r.raw?.mbPerSec)} | ${r.project ? int(r.project.msgsPerSec) : 'skipped'} | ${num(r.project?.mbPerSec)} | ${ratio(r.project?.msgsPerSec, r.raw?.msgsPerSec)} |`,
      )
    }
    lines.push('')
  }
  const dtls = dtlsLines(report)
  if (dtls.length > 0) lines.push(...dtls.map((l) => `- ${l}`), '')
  lines.push('| target (issue 5) | measured | verdict |', '|---|---|---|')
  for (const c of checkTargets(report)) lines.push(`| ${c.target} | ${c.measured} | ${verdict(c.ok)} |`)
  lines.push('')
  lines.push(
    `Memory (peak RSS, limit ${report.memoryLimitMb} MB): ${report.memory.map((r) => `${r.role} ${num(r.maxRssMb)} MB (${num(r.startRssMb)} MB before any traffic: node + tsx loader)`).join(', ')}.`,
    '',
  )
  const skipped = [
    ...new Set([...report.pingpong, ...report.latency, ...report.oneway].map((r) => r.skipped).filter((s) => s !== undefined)),
  ]
  for (const s of skipped) lines.push(`Helios side skipped: ${s}.`, '')
  for (const n of report.notes) lines.push(`${n}`, '')
  lines.push(SECTION_END)
  return lines.join('\n')
}

/**
 * Replaces a benchmark's section of RESULTS.md, from the line starting with `begin` to `end`
 * included, with `render(existing)` (`existing`: the section as it is, '' when there is none), or
 * appends it; every other byte of the file is kept as it is. Each benchmark owns one section.
 */
export function replaceResultsSection(path: string, begin: string, end: string, render: (existing: string) => string): void {
  let text = ''
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    text = '# Benchmark results\n\nEach benchmark of bench/ owns one section below.\n'
  }
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  const found = from >= 0 && to > from
  const section = render(found ? text.slice(from, to) : '')
  if (found) text = text.slice(0, from) + section + text.slice(to + end.length)
  else text = `${text.replace(/\s*$/, '')}\n\n${section}\n`
  writeFileSync(path, text)
}

/** Replaces the pingpong section of RESULTS.md (between the markers), or appends it. */
export function updateResultsMd(path: string, section: string): void {
  replaceResultsSection(path, '<!-- pingpong:begin', SECTION_END, () => section)
}

/** A markdown table cell: `|` escaped. */
export function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|')
}

/**
 * One run's block of a RESULTS.md section: `<!-- {prefix}{summary as JSON} -->`, the block's text,
 * `{end}`. The summary (with a `key`: the kind of run, size, transport and commit, as the
 * benchmark defines it) is what the section's comparison table is rebuilt from.
 */
export interface ResultsBlock<S extends { readonly key: string }> {
  summary: S
  /** The whole block, both markers included. */
  text: string
}

/** The blocks of a section, in order; a block whose opening comment was edited out of shape is dropped. */
export function parseResultsBlocks<S extends { readonly key: string }>(section: string, begin: string, end: string): ResultsBlock<S>[] {
  const out: ResultsBlock<S>[] = []
  let i = section.indexOf(begin)
  while (i >= 0) {
    const to = section.indexOf(end, i)
    if (to < 0) break
    const text = section.slice(i, to + end.length)
    try {
      out.push({ summary: JSON.parse(text.slice(begin.length, text.indexOf(' -->'))) as S, text })
    } catch {
      /* a block whose comment was edited: dropped */
    }
    i = section.indexOf(begin, to)
  }
  return out
}

/** `blocks` with each of `fresh` in place of the block of the same key (or added at the end). */
export function mergeResultsBlocks<B>(blocks: readonly B[], fresh: readonly B[], keyOf: (b: B) => string): B[] {
  const out = [...blocks]
  for (const b of fresh) {
    const at = out.findIndex((x) => keyOf(x) === keyOf(b))
    if (at >= 0) out[at] = b
    else out.push(b)
  }
  return out
}
