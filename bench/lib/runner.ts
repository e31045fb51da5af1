/**
 * Runs the whole suite: per transport, the raw baseline and the project side case by case
 * (interleaved, so that drift on a shared machine hits both alike), then latency and one-way.
 * Side B lives in a child process unless `--in-process`. Every case is bounded in time; the
 * project side is skipped with a printed reason when remoting is not there, never estimated.
 */
import { resolve } from 'node:path'
import { type TlsMaterial, makeTlsMaterial } from './certs.js'
import { dtlsHandshakes, dtlsSessions, tlsHandshakes } from './dtls.js'
import { heliosLatency, heliosOneWay, heliosPingPong, PingPongClients } from './helios.js'
import { createRemoteSystem, type HeliosLoad, type HeliosSystem, loadHelios, withTimeout } from './heliosApi.js'
import { machineInfo, memoryReport } from './machine.js'
import type { BenchOptions } from './options.js'
import { ChildPeer, InProcessPeer, type Peer } from './peer.js'
import { childProfileArgs, profileSelf } from './profile.js'
import type { Progress } from './progress.js'
import { rawLatency, rawOneWay, rawPingPong } from './raw.js'
import type { LatencyRow, MemoryRow, OneWayRow, PingPongRow, Report } from './report.js'
import {
  type LatencyResult,
  type OneWayResult,
  type OneWaySpec,
  oneWayWindow,
  type PingPongSpec,
  secured,
  TRANSPORTS,
  type Transport,
} from './workloads.js'

const MEMORY_LIMIT_MB = 200
/** Makes the names of B's actors unique even when a client count or size is listed twice. */
let actorSerial = 0
/** Slack above a case's own cap before the harness gives up on it. */
const CASE_SLACK_MS = 20_000
/** Why the dtls rows have no raw column. */
const NO_RAW_DTLS = 'no raw baseline over dtls (Node has no DTLS of its own); dtls is compared with udp'
/** Fresh DTLS (and TLS) sessions timed one after the other. */
const HANDSHAKES = 100
/** DTLS sessions held open at once for the memory figure (not with --quick). */
const SESSIONS = 1000

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!
}

/** Transports touched by any workload, in canonical order. */
export function transportsOf(opts: BenchOptions): Transport[] {
  const used = new Set([...opts.transports, ...opts.latencyTransports, ...opts.onewayTransports])
  return TRANSPORTS.filter((t) => used.has(t))
}

/** How many progress steps a run has (setup + one per case and side). */
export function stepCount(opts: BenchOptions): number {
  const sides = (opts.raw ? 1 : 0) + (opts.project ? 1 : 0)
  let steps = 0
  for (const t of transportsOf(opts)) {
    steps += 1
    if (opts.transports.includes(t)) steps += opts.clients.length * sides * opts.rounds
    if (opts.latencyTransports.includes(t)) steps += sides * opts.rounds
    if (opts.onewayTransports.includes(t)) steps += opts.onewaySizes.length * sides * opts.rounds
  }
  if (transportsOf(opts).includes('dtls')) steps += 1
  return steps
}

interface ProjectSide {
  a?: HeliosSystem
  /** The benchmark actors (and their echoes on B) every N of this transport reuses. */
  clients?: PingPongClients
  skipped?: string
}

export async function runBench(opts: BenchOptions, progress: Progress, command: string): Promise<Report> {
  const started = Date.now()
  const report: Report = {
    bench: 'pingpong',
    date: new Date().toISOString(),
    command,
    mode: opts.inProcess ? 'in-process' : 'two processes',
    machine: machineInfo(),
    options: {
      clients: opts.clients,
      replies: opts.replies,
      window: opts.window,
      maxCaseMs: opts.maxCaseMs,
      rounds: opts.rounds,
      latency: { warmup: opts.latencyWarmup, count: opts.latencyCount, payloadBytes: opts.latencyPayload },
      oneway: { sizes: opts.onewaySizes, messages: opts.onewayMessages },
      quick: opts.quick,
      dtlsMtu: Number(process.env['HELIOS_BENCH_DTLS_MTU'] ?? 0) || 1280,
    },
    pingpong: [],
    latency: [],
    oneway: [],
    memory: [],
    memoryLimitMb: MEMORY_LIMIT_MB,
    notes: [],
    durationSec: 0,
  }

  let tls: TlsMaterial | undefined
  let tlsError: string | undefined
  if (transportsOf(opts).some(secured)) {
    try {
      tls = makeTlsMaterial()
    } catch (err) {
      tlsError = `no TLS material (${reason(err)})`
      report.notes.push(`tls cases skipped: ${tlsError}`)
    }
  }

  progress.status(opts.inProcess ? 'loading' : 'starting side B')
  const helios: HeliosLoad = opts.project ? await loadHelios() : { ok: false, reason: 'project side not requested (--raw-only)' }
  if (!helios.ok) progress.note(`helios side: ${helios.reason}`)

  const profileDir = resolve(opts.outDir, 'profiles')
  const stopProfile = opts.cpuProf ? await profileSelf(profileDir, report.date.replace(/[:.]/g, '-')) : undefined
  const peer: Peer = opts.inProcess ? new InProcessPeer() : await ChildPeer.spawn(opts.cpuProf ? childProfileArgs(profileDir) : [])
  try {
    for (const t of transportsOf(opts)) {
      progress.step(`${t}: set-up and warm-up`)
      const project: ProjectSide = {}
      let rawPort: number | undefined
      let rawSetupError: string | undefined
      if (secured(t) && !tls) rawSetupError = tlsError ?? 'no TLS material'
      if (t === 'dtls') rawSetupError = NO_RAW_DTLS
      // Raw echo server on B, warmed up with a short run that is not reported.
      if (opts.raw && rawSetupError === undefined) {
        try {
          rawPort = (
            await peer.request<{ port: number }>({ op: 'raw-listen', transport: t, mode: 'echo', ackEvery: 1, ...(tls ? { tls } : {}) })
          ).port
          await rawPingPong(rawPort, warmSpec(opts, t), tls)
        } catch (err) {
          rawSetupError = reason(err)
        }
      }
      // The two actor systems, warmed up the same way.
      if (!helios.ok) project.skipped = helios.reason
      else if (secured(t) && !tls) project.skipped = tlsError ?? 'no TLS material'
      else {
        try {
          project.a = await createRemoteSystem(helios.ActorSystem, 'A', t, tls)
          await peer.request({ op: 'helios-start', transport: t, ...(tls ? { tls } : {}) })
          const poolSize = Math.max(5, ...(opts.transports.includes(t) ? opts.clients : []))
          const { paths } = await peer.request<{ paths: string[] }>({
            op: 'helios-echo',
            transport: t,
            prefix: `echo-${++actorSerial}`,
            count: poolSize,
          })
          project.clients = await withTimeout(PingPongClients.create(project.a, paths), 30_000, 'resolving the echo actors')
          await withTimeout(heliosPingPong(project.clients, warmSpec(opts, t)), 30_000, 'helios warm-up')
        } catch (err) {
          project.skipped = reason(err)
          progress.note(`helios ${t}: skipped: ${project.skipped}`)
          await project.a?.terminate().catch(() => {})
          await peer.request({ op: 'helios-stop', transport: t }).catch(() => {})
          delete project.a
          delete project.clients
        }
      }
      progress.complete()

      if (opts.transports.includes(t)) {
        for (const n of opts.clients) {
          const spec: PingPongSpec = {
            transport: t,
            clients: n,
            repliesPerClient: opts.replies,
            window: opts.window,
            maxMs: opts.maxCaseMs,
          }
          const row: PingPongRow = { transport: t, clients: n, raw: null, project: null, rawRounds: [], projectRounds: [] }
          const runRaw = async (round: number): Promise<void> => {
            progress.step(`pingpong ${t} N=${n} raw${roundLabel(opts, round)}`)
            if (rawPort !== undefined && row.rawError === undefined) {
              try {
                const r = await withTimeout(rawPingPong(rawPort, spec, tls), spec.maxMs + CASE_SLACK_MS, 'raw case')
                row.rawRounds!.push(r.msgsPerSec)
                if (!row.raw || r.msgsPerSec > row.raw.msgsPerSec) row.raw = r
              } catch (err) {
                row.rawError = reason(err)
              }
            } else row.rawError ??= rawSetupError ?? 'not run'
            progress.complete()
          }
          const runProject = async (round: number): Promise<void> => {
            progress.step(`pingpong ${t} N=${n} helios${roundLabel(opts, round)}`)
            if (project.a && project.clients && row.skipped === undefined) {
              try {
                const r = await withTimeout(heliosPingPong(project.clients!, spec), spec.maxMs + CASE_SLACK_MS, 'helios case')
                row.projectRounds!.push(r.msgsPerSec)
                if (!row.project || r.msgsPerSec > row.project.msgsPerSec) row.project = r
              } catch (err) {
                row.skipped = `failed: ${reason(err)}`
                progress.note(`helios pingpong ${t} N=${n}: ${row.skipped}`)
              }
            } else row.skipped ??= project.skipped ?? 'not run'
            progress.complete()
          }
          await alternate(opts, runRaw, runProject)
          report.pingpong.push(row)
        }
      }

      if (opts.latencyTransports.includes(t)) {
        const spec = {
          transport: t,
          payloadBytes: opts.latencyPayload,
          warmup: opts.latencyWarmup,
          count: opts.latencyCount,
          maxMs: opts.maxCaseMs * 2,
        }
        const row: LatencyRow = { transport: t, payloadBytes: spec.payloadBytes, raw: null, project: null }
        let echoPath: string | undefined
        // Each side keeps its round with the lowest p50 (all its percentiles come from that round).
        const runRaw = async (round: number): Promise<void> => {
          progress.step(`latency ${t} raw${roundLabel(opts, round)}`)
          if (rawPort === undefined) row.rawError = rawSetupError ?? 'not run'
          else if (row.rawError === undefined) {
            try {
              const r = nonEmpty(await withTimeout(rawLatency(rawPort, spec, tls), spec.maxMs + CASE_SLACK_MS, 'raw latency'), spec.maxMs)
              if (!row.raw || r.p50 < row.raw.p50) row.raw = r
            } catch (err) {
              row.rawError = reason(err)
            }
          }
          progress.complete()
        }
        const runProject = async (round: number): Promise<void> => {
          progress.step(`latency ${t} helios${roundLabel(opts, round)}`)
          if (!project.a) row.skipped = project.skipped ?? 'not run'
          else if (row.skipped === undefined) {
            try {
              echoPath ??= (
                await peer.request<{ paths: string[] }>({
                  op: 'helios-echo',
                  transport: t,
                  prefix: `echo-${++actorSerial}-latency`,
                  count: 1,
                })
              ).paths[0]!
              const r = nonEmpty(
                await withTimeout(heliosLatency(project.a, echoPath, spec), spec.maxMs + CASE_SLACK_MS, 'helios latency'),
                spec.maxMs,
              )
              if (!row.project || r.p50 < row.project.p50) row.project = r
            } catch (err) {
              row.skipped = `failed: ${reason(err)}`
            }
          }
          progress.complete()
        }
        await alternate(opts, runRaw, runProject)
        report.latency.push(row)
      }

      if (opts.onewayTransports.includes(t)) {
        for (const size of opts.onewaySizes) {
          const window = oneWayWindow(size)
          const ackEvery = Math.max(1, Math.min(500, Math.floor(window / 4)))
          // Bigger messages: a third as many (about 1 to 2 s per run on this machine).
          const messages = Math.max(ackEvery, Math.round(size <= 1024 ? opts.onewayMessages : opts.onewayMessages / 3))
          const spec: OneWaySpec = { transport: t, payloadBytes: size, messages, window, ackEvery, maxMs: opts.maxCaseMs }
          const row: OneWayRow = { transport: t, payloadBytes: size, raw: null, project: null }
          // A fresh sink per run (sink counts are cumulative).
          const rawOnce = async (s: OneWaySpec): Promise<OneWayResult> => {
            const { port } = await peer.request<{ port: number }>({
              op: 'raw-listen',
              transport: t,
              mode: 'sink',
              ackEvery,
              ...(tls ? { tls } : {}),
            })
            try {
              return await withTimeout(rawOneWay(port, s, tls), s.maxMs + CASE_SLACK_MS, 'raw one-way')
            } finally {
              await peer.request({ op: 'raw-close', port }).catch(() => {})
            }
          }
          const heliosOnce = async (s: OneWaySpec): Promise<OneWayResult & { dropped: number }> => {
            const { path } = await peer.request<{ path: string }>({
              op: 'helios-sink',
              transport: t,
              name: `sink-${++actorSerial}-${size}`,
              ackEvery,
            })
            return withTimeout(heliosOneWay(project.a!, path, s), s.maxMs + CASE_SLACK_MS, 'helios one-way')
          }
          const runRaw = async (round: number): Promise<void> => {
            progress.step(`oneway ${t} ${size} B raw${roundLabel(opts, round)}`)
            if (rawSetupError !== undefined) row.rawError = rawSetupError
            else if (row.rawError === undefined) {
              try {
                if (round === 0) await rawOnce(warmOneWay(spec))
                const r = await rawOnce(spec)
                if (!row.raw || r.msgsPerSec > row.raw.msgsPerSec) row.raw = r
              } catch (err) {
                row.rawError = reason(err)
              }
            }
            progress.complete()
          }
          const runProject = async (round: number): Promise<void> => {
            progress.step(`oneway ${t} ${size} B helios${roundLabel(opts, round)}`)
            if (!project.a) row.skipped = project.skipped ?? 'not run'
            else if (row.skipped === undefined) {
              try {
                if (round === 0) await heliosOnce(warmOneWay(spec))
                const r = await heliosOnce(spec)
                if (!row.project || r.msgsPerSec > row.project.msgsPerSec) row.project = r
              } catch (err) {
                row.skipped = `failed: ${reason(err)}`
              }
            }
            progress.complete()
          }
          await alternate(opts, runRaw, runProject)
          report.oneway.push(row)
        }
      }

      if (rawPort !== undefined) await peer.request({ op: 'raw-close', port: rawPort }).catch(() => {})
      if (project.a) {
        await withTimeout(project.a.terminate(), 10_000, 'terminate A').catch(() => {})
        await peer.request({ op: 'helios-stop', transport: t }, 15_000).catch(() => {})
      }
    }

    if (transportsOf(opts).includes('dtls') && tls) {
      progress.step('dtls: handshakes and sessions')
      try {
        const { port } = await peer.request<{ port: number }>({ op: 'dtls-listen', tls })
        try {
          report.handshakes = [await withTimeout(dtlsHandshakes(port, tls, HANDSHAKES), 60_000, 'dtls handshakes')]
          const raw = await peer.request<{ port: number }>({ op: 'raw-listen', transport: 'tls', mode: 'echo', ackEvery: 1, tls })
          try {
            report.handshakes.push(await withTimeout(tlsHandshakes(raw.port, tls, HANDSHAKES), 60_000, 'tls handshakes'))
          } finally {
            await peer.request({ op: 'raw-close', port: raw.port }).catch(() => {})
          }
          if (!opts.quick) {
            const rss = (): Promise<{ sessions: number; rssMb: number; heapMb: number }> => peer.request({ op: 'dtls-sessions', port })
            report.sessions = await withTimeout(dtlsSessions(port, tls, SESSIONS, rss), 120_000, 'dtls sessions')
          }
        } finally {
          await peer.request({ op: 'dtls-close', port }).catch(() => {})
        }
      } catch (err) {
        report.notes.push(`dtls handshakes and sessions not measured: ${reason(err)}`)
      }
      progress.complete()
    }

    const a = memoryReport()
    const rows: MemoryRow[] = []
    if (opts.inProcess) rows.push({ role: 'A+B (one process)', ...a })
    else {
      rows.push({ role: 'A (benchmark actors, raw clients)', ...a })
      try {
        rows.push({ role: 'B (echo actors, raw servers)', ...(await peer.memory()) })
      } catch (err) {
        report.notes.push(`side B did not report its memory: ${reason(err)}`)
      }
    }
    report.memory = rows
    for (const r of rows) {
      if (r.maxRssMb >= MEMORY_LIMIT_MB)
        report.notes.push(`WARNING: ${r.role} peaked at ${r.maxRssMb} MB RSS, above the ${MEMORY_LIMIT_MB} MB limit`)
    }
  } finally {
    await peer.close()
    if (stopProfile)
      report.notes.push(
        `CPU profiles: ${await stopProfile()} (side A) and ${opts.inProcess ? 'none' : 'CPU.*.cpuprofile'} (side B) in ${profileDir}`,
      )
  }
  report.durationSec = (Date.now() - started) / 1000
  return report
}

/** A latency run that recorded nothing has no percentiles: report it as a failure, not as zeros. */
function nonEmpty(result: LatencyResult, maxMs: number): LatencyResult {
  if (result.count === 0) throw new Error(`no measured round trip completed within ${maxMs} ms`)
  return result
}

/** A fifth of the one-way stream, at most 500 ms: lets the JIT settle on the sizes about to be measured. */
function warmOneWay(spec: OneWaySpec): OneWaySpec {
  return { ...spec, messages: Math.max(spec.ackEvery, Math.round(spec.messages / 5)), maxMs: Math.min(500, spec.maxMs) }
}

/**
 * Runs `opts.rounds` rounds of both sides, alternating which goes first; each side keeps its best
 * round (the one least disturbed by whatever else the shared machine was doing).
 */
async function alternate(
  opts: BenchOptions,
  runRaw: (round: number) => Promise<void>,
  runProject: (round: number) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < opts.rounds; round++) {
    const order = round % 2 === 0 ? [runRaw, runProject] : [runProject, runRaw]
    for (const side of order) {
      if (side === runRaw && !opts.raw) continue
      if (side === runProject && !opts.project) continue
      await side(round)
    }
  }
}

function roundLabel(opts: BenchOptions, round: number): string {
  return opts.rounds > 1 ? ` (round ${round + 1}/${opts.rounds})` : ''
}

function warmSpec(opts: BenchOptions, transport: Transport): PingPongSpec {
  return {
    transport,
    clients: 5,
    repliesPerClient: opts.quick ? 2_000 : 10_000,
    window: opts.window,
    maxMs: opts.quick ? 400 : 1_000,
  }
}
