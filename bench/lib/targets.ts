/**
 * The performance targets of issue 5, checked against one run's figures (ratios to the raw
 * baseline measured in the same run). A target whose figures are missing is "n/a", not passed.
 *
 * `slack` loosens every target for a gate that must only catch gross regressions (CI runs the
 * quick benchmark on a shared machine with `--check-targets half`): a lower bound x becomes
 * x * slack, an upper bound x becomes x / slack (0.5: at least half the ratio, at most twice the
 * latency ratio or memory).
 */
import type { Report } from './report.js'

export interface TargetCheck {
  target: string
  measured: string
  /** null when the figures needed are missing (project side skipped or failed). */
  ok: boolean | null
}

const fmt = (x: number): string => x.toFixed(2)

function pingPongRatios(report: Report, transport: string): { n: number; ratio: number }[] {
  return report.pingpong
    .filter((r) => r.transport === transport && r.raw && r.project && r.raw.msgsPerSec > 0)
    .map((r) => ({ n: r.clients, ratio: r.project!.msgsPerSec / r.raw!.msgsPerSec }))
}

export function checkTargets(report: Report, slack = 1): TargetCheck[] {
  const checks: TargetCheck[] = []
  /** A lower bound, loosened by slack. */
  const atLeast = (x: number): number => x * slack
  /** An upper bound, loosened by slack. */
  const atMost = (x: number): number => x / slack
  const g = (x: number): string => String(Math.round(x * 1000) / 1000)
  const tcpRows = report.pingpong.filter((r) => r.transport === 'tcp')
  const tcp = pingPongRatios(report, 'tcp')
  const complete = tcp.length > 0 && tcp.length === tcpRows.length
  if (complete) {
    const worst = tcp.reduce((a, b) => (b.ratio < a.ratio ? b : a))
    const best = tcp.reduce((a, b) => (b.ratio > a.ratio ? b : a))
    checks.push({
      target: `pingpong tcp >= ${g(atLeast(0.5))} of raw at every N`,
      measured: `min ${fmt(worst.ratio)} (N=${worst.n})`,
      ok: worst.ratio >= atLeast(0.5),
    })
    checks.push({
      target: `pingpong tcp >= ${g(atLeast(0.65))} of raw at the best N`,
      measured: `max ${fmt(best.ratio)} (N=${best.n})`,
      ok: best.ratio >= atLeast(0.65),
    })
  } else {
    checks.push({ target: `pingpong tcp >= ${g(atLeast(0.5))} of raw at every N`, measured: 'n/a', ok: null })
    checks.push({ target: `pingpong tcp >= ${g(atLeast(0.65))} of raw at the best N`, measured: 'n/a', ok: null })
  }
  const lat = report.latency.find((r) => r.transport === 'tcp')
  if (lat?.raw && lat.project) {
    const p50 = lat.project.p50 / lat.raw.p50
    const p99 = lat.project.p99 / lat.raw.p99
    checks.push({
      target: `latency tcp p50 <= ${g(atMost(1.3))} x raw`,
      measured: `${fmt(p50)} x (${lat.project.p50.toFixed(1)} vs ${lat.raw.p50.toFixed(1)} us)`,
      ok: p50 <= atMost(1.3),
    })
    checks.push({
      target: `latency tcp p99 <= ${g(atMost(2))} x raw`,
      measured: `${fmt(p99)} x (${lat.project.p99.toFixed(1)} vs ${lat.raw.p99.toFixed(1)} us)`,
      ok: p99 <= atMost(2),
    })
  } else {
    checks.push({ target: `latency tcp p50 <= ${g(atMost(1.3))} x raw`, measured: 'n/a', ok: null })
    checks.push({ target: `latency tcp p99 <= ${g(atMost(2))} x raw`, measured: 'n/a', ok: null })
  }
  const ow = report.oneway.find((r) => r.transport === 'tcp' && r.payloadBytes === 100)
  if (ow?.raw && ow.project && ow.raw.msgsPerSec > 0) {
    const r = ow.project.msgsPerSec / ow.raw.msgsPerSec
    checks.push({ target: `one-way tcp 100 B >= ${g(atLeast(0.4))} of raw`, measured: fmt(r), ok: r >= atLeast(0.4) })
  } else checks.push({ target: `one-way tcp 100 B >= ${g(atLeast(0.4))} of raw`, measured: 'n/a', ok: null })
  // tls within 0.7 of tcp: helios tls / helios tcp at each N both were measured.
  const pairs = report.pingpong
    .filter((r) => r.transport === 'tls' && r.project)
    .map((r) => ({
      n: r.clients,
      tls: r.project!.msgsPerSec,
      tcp: report.pingpong.find((x) => x.transport === 'tcp' && x.clients === r.clients)?.project?.msgsPerSec,
    }))
    .filter((p): p is { n: number; tls: number; tcp: number } => p.tcp !== undefined && p.tcp > 0)
  if (pairs.length > 0) {
    const worst = pairs.map((p) => ({ n: p.n, r: p.tls / p.tcp })).reduce((a, b) => (b.r < a.r ? b : a))
    checks.push({
      target: `pingpong tls >= ${g(atLeast(0.7))} of helios tcp`,
      measured: `min ${fmt(worst.r)} (N=${worst.n})`,
      ok: worst.r >= atLeast(0.7),
    })
  } else checks.push({ target: `pingpong tls >= ${g(atLeast(0.7))} of helios tcp`, measured: 'n/a', ok: null })
  // dtls (issue 11): at least half of udp's ping-pong, at N=1 and at the best N of each, same run.
  const projectOf = (t: string, n?: number): number | undefined => {
    const rows = report.pingpong.filter((r) => r.transport === t && r.project && (n === undefined || r.clients === n))
    return rows.length === 0 ? undefined : Math.max(...rows.map((r) => r.project!.msgsPerSec))
  }
  if (report.pingpong.some((r) => r.transport === 'dtls')) {
    const d1 = projectOf('dtls', 1)
    const u1 = projectOf('udp', 1)
    checks.push({
      target: `pingpong dtls >= ${g(atLeast(0.5))} of udp at N=1`,
      measured: d1 !== undefined && u1 ? `${fmt(d1 / u1)} (${Math.round(d1)} vs ${Math.round(u1)} msgs/s)` : 'n/a',
      ok: d1 !== undefined && u1 ? d1 / u1 >= atLeast(0.5) : null,
    })
    const db = projectOf('dtls')
    const ub = projectOf('udp')
    checks.push({
      target: `pingpong dtls >= ${g(atLeast(0.5))} of udp at the best N`,
      measured: db !== undefined && ub ? `${fmt(db / ub)} (${Math.round(db)} vs ${Math.round(ub)} msgs/s)` : 'n/a',
      ok: db !== undefined && ub ? db / ub >= atLeast(0.5) : null,
    })
  }
  const peak = Math.max(...report.memory.map((m) => m.maxRssMb), 0)
  const rssLimit = atMost(report.memoryLimitMb)
  checks.push({
    target: `RSS of each process < ${g(rssLimit)} MB`,
    measured: `peak ${peak.toFixed(1)} MB`,
    ok: report.memory.length > 0 ? peak < rssLimit : null,
  })
  return checks
}

export function verdict(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'PASS' : 'FAIL'
}
