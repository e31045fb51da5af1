/**
 * Mesh: what a cluster of many nodes costs, one process per node (lib/meshNode.ts) and, as root,
 * one network namespace per node joined by a bridge (lib/faultNet.ts): mesh formation, the idle
 * cost per node (nothing watched, then every node watching every other), all-to-all traffic, and
 * a SIGKILL; or, with --star N, one observer facing N peers packed into a few processes. See the
 * "mesh" section of RESULTS.md.
 *
 *   pnpm bench:mesh [--nodes 100] [--transports tcp,udp] [--star 1000] [--json] [--update-results]   (--help for all)
 *
 * Prints a table per phase and transport on stdout (and the targets of the issue as PASS/FAIL
 * rows), progress on stderr, writes results/mesh-<date>.json. With --json the last stdout line is
 * {"bench":"mesh","results":[...]}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { killAllNodes, type NodeProc } from './lib/faultCluster.js'
import { createLoopbackNet, createNetnsNet, type FaultNet, makeClusterTls, netnsUnavailable } from './lib/faultNet.js'
import { machineInfo } from './lib/machine.js'
import { allProcesses, CLK_TCK, cpuSeconds, machineCpu, nofileLimit, otherProcesses } from './lib/meshProbe.js'
import { checkTargets, jsonLine, type MeshReport, renderTables, updateResultsMd, verdict } from './lib/meshReport.js'
import {
  type MeshOptions,
  PHASES,
  type Phase,
  type RunContext,
  runMesh,
  runStar,
  type Transport,
  type TransportResult,
} from './lib/meshRun.js'
import { Progress } from './lib/progress.js'
import { commitOf, numberOption, runBenchMain, stopOnExit, userPath, parseBenchArgs } from './lib/benchProcess.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const nodeMain = join(benchDir, 'lib', 'meshNode.ts')
const TRANSPORTS: readonly Transport[] = ['tcp', 'tls', 'udp']
/** Namespaces of this benchmark (the faults benchmark has its own). */
const NS_PREFIX = 'hmesh-'

const USAGE = `pnpm bench:mesh [options]

  --nodes 100                   node processes, one actor system each (default 100)
  --transports tcp,udp          any of tcp,tls,udp (default tcp)
  --star 1000                   instead of a mesh: one observer facing 1000 peers packed into
                                --star-procs processes (default 10), each peer an actor system
                                on a port of its own; phases mesh, idle, watched
  --phases mesh,idle,watched,traffic,kill   (default all; mesh always runs)
  --mesh-bound-s 120            give up on mesh formation after this (what is missing is listed)
  --attempt-timeout-s 10        timeout of each resolveOne and ask of the formation (retried)
  --idle-s 30                   each idle window
  --warmup-s 30                 pause between formation and the first idle window (a node's CPU
                                stays higher for a while after the formation: V8 shrinks its heap)
  --settle-s 5                  pause before the other windows
  --rate 10                     messages per second from every node to every other (traffic)
  --traffic-s 20                traffic phase length        --drain-s 30  wait for stragglers
  --ask-interval-ms 100         one ask per node this often during the traffic (latency samples)
  --terminated-wait-s 40        how long watchers get for Terminated after the SIGKILL
  --victim 1                    the node killed
  --heartbeat-interval-ms 1000  (default: the remoting's default)
  --remote-json '{...}'         more remote options for every node (e.g. a setting under test)
  --nofile 65536                descriptor limit of the node processes (prlimit; default: set
                                only when the inherited limit is too small for the run)
  --eld                         sample event-loop delay in every node (costs CPU; the star's
                                observer always samples it)
  --start-parallel 4            node processes started at a time
  --no-netns                    everything on 127.0.0.1 even as root
  --json                        last line printed: {"bench":"mesh","results":[...]}
  --out results                 directory for mesh-<date>.json
  --update-results              rewrite this run's blocks of the mesh section of bench/RESULTS.md
  --from-json <file>            print (and with --update-results, write to RESULTS.md) a saved run

Environment: MESH_PROFILE_DIR=<dir> makes the first four node processes write a CPU profile of
their part of the formation there (node0.cpuprofile ...; open in Chrome DevTools).`

function parseOptions(argv: string[]): MeshOptions & { fromJson: string | undefined } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string' },
      transports: { type: 'string' },
      star: { type: 'string' },
      'star-procs': { type: 'string' },
      phases: { type: 'string' },
      'mesh-bound-s': { type: 'string' },
      'attempt-timeout-s': { type: 'string' },
      'retry-delay-ms': { type: 'string' },
      'idle-s': { type: 'string' },
      'settle-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      rate: { type: 'string' },
      'traffic-s': { type: 'string' },
      'drain-s': { type: 'string' },
      'ask-interval-ms': { type: 'string' },
      'ask-timeout-ms': { type: 'string' },
      'terminated-wait-s': { type: 'string' },
      victim: { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      'remote-json': { type: 'string' },
      nofile: { type: 'string' },
      eld: { type: 'boolean', default: false },
      'start-parallel': { type: 'string' },
      'no-netns': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'update-results': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const transports = (values.transports ?? 'tcp').split(',').map((s) => s.trim())
  for (const t of transports) if (!(TRANSPORTS as readonly string[]).includes(t)) throw new Error(`unknown transport ${t}`)
  const phases = (values.phases ?? PHASES.join(',')).split(',').map((s) => s.trim())
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p} (${PHASES.join(', ')})`)
  const star = values.star !== undefined ? Math.round(numberOption(values.star, 0, 'star')) : undefined
  const nodes = Math.round(numberOption(values.nodes, 100, 'nodes', { min: 1 }))
  if (nodes > 65_000) throw new Error('--nodes: at most 65000')
  let remote: Record<string, unknown> = {}
  if (values['remote-json'] !== undefined) {
    try {
      remote = JSON.parse(values['remote-json']) as Record<string, unknown>
    } catch (err) {
      throw new Error(`--remote-json: ${(err as Error).message}`)
    }
  }
  return {
    nodes,
    star,
    starProcs: Math.round(numberOption(values['star-procs'], 10, 'star-procs')),
    transports: transports as Transport[],
    phases: (star !== undefined ? phases.filter((p) => p === 'mesh' || p === 'idle' || p === 'watched') : phases) as Phase[],
    netns: values['no-netns'] !== true,
    meshBoundS: numberOption(values['mesh-bound-s'], 120, 'mesh-bound-s'),
    attemptTimeoutS: numberOption(values['attempt-timeout-s'], 10, 'attempt-timeout-s'),
    retryDelayMs: numberOption(values['retry-delay-ms'], 1000, 'retry-delay-ms', { min: -1 }),
    settleS: numberOption(values['settle-s'], 5, 'settle-s', { min: -1 }),
    warmupS: numberOption(values['warmup-s'], 30, 'warmup-s', { min: -1 }),
    idleS: numberOption(values['idle-s'], 30, 'idle-s'),
    rate: numberOption(values.rate, 10, 'rate'),
    trafficS: numberOption(values['traffic-s'], 20, 'traffic-s'),
    askIntervalMs: numberOption(values['ask-interval-ms'], 100, 'ask-interval-ms', { min: -1 }),
    askTimeoutMs: numberOption(values['ask-timeout-ms'], 10_000, 'ask-timeout-ms'),
    drainS: numberOption(values['drain-s'], 30, 'drain-s'),
    terminatedWaitS: numberOption(values['terminated-wait-s'], 40, 'terminated-wait-s'),
    victim: Math.round(numberOption(values.victim, 1, 'victim', { min: -1 })),
    heartbeatIntervalMs:
      values['heartbeat-interval-ms'] !== undefined ? numberOption(values['heartbeat-interval-ms'], 0, 'heartbeat-interval-ms') : undefined,
    remote,
    startParallel: Math.round(numberOption(values['start-parallel'], 4, 'start-parallel')),
    nofile: values.nofile !== undefined ? Math.round(numberOption(values.nofile, 0, 'nofile')) : undefined,
    eld: values.eld === true,
    json: values.json === true,
    updateResults: values['update-results'] === true,
    outDir: values.out ?? 'results',
    fromJson: values['from-json'],
    help: values.help === true,
  }
}

// ---- cleanup, whatever way this process ends -----------------------------------------------------

let net: FaultNet | undefined
const cleanup = stopOnExit(() => {
  killAllNodes()
  net?.cleanup()
}, 'the nodes and removing the namespaces')

function writeOut(report: MeshReport, opts: { json: boolean; updateResults: boolean }, jsonFile: string): void {
  if (opts.updateResults) updateResultsMd(join(benchDir, 'RESULTS.md'), report, relative(benchDir, jsonFile))
  process.stdout.write(`${renderTables(report)}\n\n`)
  process.stdout.write(`wrote ${relative(process.cwd(), jsonFile)}${opts.updateResults ? ' and RESULTS.md' : ''}\n`)
  const checks = report.results.flatMap((r) => checkTargets(r, report.machine.nproc).map((c) => ({ ...c, transport: r.transport })))
  if (checks.length > 0) {
    process.stdout.write('\ntargets of the issue (100 nodes, 2 cores):\n')
    for (const c of checks)
      process.stdout.write(`  ${verdict(c.ok).padEnd(4)}  ${c.transport.padEnd(4)} ${c.target.padEnd(64)}  ${c.measured}\n`)
  }
  if (opts.json) process.stdout.write(`${jsonLine(report)}\n`)
}

/** The descriptor limit a run needs per process, roughly: 4 connections per association and some. */
function nofileNeeded(opts: MeshOptions): number {
  if (opts.star !== undefined) {
    const perProc = Math.ceil(opts.star / Math.max(1, Math.min(opts.starProcs, opts.star)))
    return Math.max(opts.star * 5 + 512, perProc * 8 + 512)
  }
  return opts.nodes * 5 + 512
}

async function main(): Promise<void> {
  const args = parseBenchArgs(parseOptions, USAGE)
  if (args === undefined) return
  const { argv, opts } = args
  if (opts.fromJson !== undefined) {
    const file = userPath(opts.fromJson)
    const report = JSON.parse(readFileSync(file, 'utf8')) as MeshReport
    writeOut(report, opts, file)
    return
  }
  const started = Date.now()
  const command = ['pnpm bench:mesh', ...argv].join(' ')
  const star = opts.star !== undefined
  const unavailable = opts.netns ? netnsUnavailable() : '--no-netns given'
  const inherited = nofileLimit('self') ?? 1024
  const needed = nofileNeeded(opts)
  const notes: string[] = []
  if (opts.nofile === undefined && inherited < needed) {
    if (typeof process.getuid === 'function' && process.getuid() === 0) {
      opts.nofile = needed
      notes.push(
        `descriptor limit of the node processes raised from ${inherited} to ${needed} with prlimit (the run needs about that many)`,
      )
    } else
      notes.push(
        `descriptor limit ${inherited} may be too small for this run (about ${needed} needed; raise it with ulimit -n, or run as root)`,
      )
  } else if (opts.nofile !== undefined) notes.push(`descriptor limit of the node processes set to ${opts.nofile} with prlimit (--nofile)`)
  else notes.push(`descriptor limit of the node processes: ${inherited}, inherited (about ${needed} needed; nothing set)`)

  const perTransport = 2 + opts.phases.filter((p) => p !== 'mesh').length
  const progress = new Progress(opts.transports.length * perTransport)
  const processesBefore = allProcesses()
  const machineBefore = machineCpu()
  const report: MeshReport = {
    bench: 'mesh',
    kind: star ? 'star' : 'mesh',
    date: new Date().toISOString(),
    command,
    commit: commitOf(),
    machine: machineInfo(),
    mode: unavailable === undefined ? 'netns' : 'loopback',
    ...(unavailable !== undefined ? { modeNote: unavailable } : {}),
    options: { ...opts },
    settings: { ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}), ...opts.remote },
    results: [],
    environment: { loadavgStart: loadavg(), loadavgEnd: [], others: { cpuSeconds: 0, top: [] } },
    notes,
    durationSec: 0,
  }
  const slotsNeeded = star ? 1 + Math.max(1, Math.min(opts.starProcs, opts.star as number)) : opts.nodes
  if (unavailable === undefined) {
    progress.note(`creating ${slotsNeeded} network namespaces and a bridge`)
    net = createNetnsNet(slotsNeeded, NS_PREFIX)
  } else {
    progress.note(`every node on 127.0.0.1: ${unavailable}`)
  }
  for (const n of notes) progress.note(n)
  let tls: { key: string; cert: string; ca: string } | undefined
  if (opts.transports.includes('tls')) tls = makeClusterTls((net ?? { slots: [] }).slots.map((s) => s.host))

  const pids = new Set<number>([process.pid, process.ppid])
  /** CPU seconds of the node processes (read just before they are killed; a SIGKILLed victim's is missing). */
  let benchCpu = 0
  try {
    for (const transport of opts.transports) {
      const tNet = net ?? (await createLoopbackNet(slotsNeeded, transport === 'udp', unavailable ?? ''))
      const ctx: RunContext = {
        transport,
        net: tNet,
        opts,
        ...(tls !== undefined ? { tls } : {}),
        progress,
        output: process.stderr,
        nodeMain,
        pids,
      }
      const result: TransportResult = {
        transport,
        kind: star ? 'star' : 'mesh',
        nodes: star ? (opts.star as number) : opts.nodes,
        processes: slotsNeeded,
        startMs: 0,
        nofile: { set: opts.nofile ?? null, min: null, max: null },
        durationMs: 0,
      }
      const t0 = Date.now()
      progress.step(`${transport}: starting ${slotsNeeded} processes`)
      let procs: NodeProc[] = []
      try {
        procs = star ? await runStar(ctx, result) : await runMesh(ctx, result)
      } catch (err) {
        result.error = err instanceof Error ? (err.stack ?? err.message) : String(err)
        progress.note(`${transport} failed: ${result.error.split('\n')[0]}`)
      }
      result.durationMs = Date.now() - t0
      report.results.push(result)
      progress.note(`  ${transport} done in ${(result.durationMs / 1000).toFixed(0)} s`)
      benchCpu += procs.reduce((sum, p) => sum + (p === undefined ? 0 : (cpuSeconds(p.pid) ?? 0)), 0)
      killAllNodes()
      await Promise.all(procs.filter((p) => p !== undefined).map((p) => p.exited))
    }
  } finally {
    progress.end()
    cleanup()
  }
  report.environment.loadavgEnd = loadavg()
  report.environment.others = otherProcesses(processesBefore, allProcesses(), pids)
  const machineAfter = machineCpu()
  report.environment.machineBusyPct =
    Math.round(((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * 1000) / 10
  report.environment.machineBusyCpuSeconds = Math.round((machineAfter.busy - machineBefore.busy) / CLK_TCK)
  const self = process.cpuUsage()
  report.environment.benchCpuSeconds = Math.round(benchCpu + (self.user + self.system) / 1e6)
  report.durationSec = (Date.now() - started) / 1000
  const outDir = resolve(benchDir, opts.outDir)
  mkdirSync(outDir, { recursive: true })
  const stamp = report.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const jsonFile = join(outDir, `mesh-${stamp}${star ? '-star' : ''}.json`)
  writeFileSync(jsonFile, `${JSON.stringify(report)}\n`)
  writeOut(report, opts, jsonFile)
}

runBenchMain('mesh', main, cleanup)
