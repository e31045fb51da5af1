/**
 * Faults: what remoting does when a node crashes (SIGKILL), stops (SIGSTOP/SIGCONT), is cut off
 * the network (partition, root only) or restarts on the same host:port, in a cluster of N actor
 * systems, one process per node (lib/faultNode.ts) and, as root, one network namespace per node
 * (lib/faultNet.ts). See the "faults" section of RESULTS.md.
 *
 *   pnpm bench:faults [--nodes 8] [--transports tcp,udp] [--quick] [--json] [--update-results]   (--help for all)
 *
 * Prints a table per scenario and transport on stdout, progress on stderr, writes
 * results/faults-<date>.json. With --json the last stdout line is {"bench":"faults","results":[...]}.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { killAllNodes } from './lib/faultCluster.js'
import { createLoopbackNet, createNetnsNet, type FaultNet, makeClusterTls, netnsUnavailable } from './lib/faultNet.js'
import {
  detectionLine,
  type FaultsReport,
  headline,
  jsonLine,
  renderMarkdownSection,
  renderTables,
  updateResultsMd,
} from './lib/faultReport.js'
import {
  detectionBound,
  type FaultsOptions,
  runKill,
  runPartition,
  runRestart,
  runStop,
  SCENARIOS,
  type ScenarioContext,
  type ScenarioName,
  type ScenarioResult,
  type Transport,
} from './lib/faultScenarios.js'
import { machineInfo } from './lib/machine.js'
import { Progress } from './lib/progress.js'
import { commitOf, numberOption, runBenchMain, stopOnExit, parseBenchArgs } from './lib/benchProcess.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const TRANSPORTS: readonly Transport[] = ['tcp', 'tls', 'udp']

const USAGE = `pnpm bench:faults [options]

  --nodes 8                     node processes per cluster (default 8; --quick 4)
  --transports tcp,udp          any of tcp,tls,udp (default tcp,udp: about 10 minutes as root;
                                each transport adds about 5)
  --scenarios kill,stop,partition,restart
  --quick                       shorter stops (2, 8 s), partitions (3, 10 s) and waits
  --stop-ms 5000,30000          SIGSTOP lengths            --settle-ms 20000   SIGCONT to probes
  --partition-ms 5000,30000     partition lengths          --recovery-ms 30000 retry window after a heal
  --terminated-wait-ms 20000    how long watchers get for Terminated after a kill
  --heartbeat-interval-ms 200   --threshold 8   --acceptable-pause-ms 2000   --min-std-deviation-ms 100
  --no-netns                    everything on 127.0.0.1 even as root (partitions skipped)
  --json                        last line printed: {"bench":"faults","results":[...]}
  --out results                 directory for faults-<date>.json
  --update-results              rewrite the faults section of bench/RESULTS.md`

function list(value: string | undefined, fallback: number[], name: string): number[] {
  if (value === undefined) return fallback
  const out = value.split(',').map((s) => Number(s.trim()))
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`--${name}: not a list of positive numbers: ${value}`)
  return out
}

function parseOptions(argv: string[]): FaultsOptions & { outDir: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string' },
      transports: { type: 'string' },
      scenarios: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'update-results': { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-netns': { type: 'boolean', default: false },
      'stop-ms': { type: 'string' },
      'partition-ms': { type: 'string' },
      'settle-ms': { type: 'string' },
      'recovery-ms': { type: 'string' },
      'terminated-wait-ms': { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      threshold: { type: 'string' },
      'acceptable-pause-ms': { type: 'string' },
      'min-std-deviation-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const quick = values.quick === true
  const transports = (values.transports ?? 'tcp,udp').split(',').map((s) => s.trim())
  for (const t of transports) if (!(TRANSPORTS as readonly string[]).includes(t)) throw new Error(`unknown transport ${t}`)
  const scenarios = (values.scenarios ?? SCENARIOS.join(',')).split(',').map((s) => s.trim())
  for (const s of scenarios)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS.join(', ')})`)
  const nodes = Math.round(numberOption(values.nodes, quick ? 4 : 8, 'nodes', { min: 1 }))
  if (nodes > 65_000) throw new Error('--nodes: at most 65000')
  return {
    nodes,
    transports: transports as Transport[],
    scenarios: scenarios as ScenarioName[],
    quick,
    json: values.json === true,
    updateResults: values['update-results'] === true,
    outDir: values.out ?? 'results',
    netns: values['no-netns'] !== true,
    heartbeatIntervalMs: numberOption(values['heartbeat-interval-ms'], 200, 'heartbeat-interval-ms'),
    failureDetector: {
      threshold: numberOption(values.threshold, 8, 'threshold'),
      acceptableHeartbeatPauseMs: numberOption(values['acceptable-pause-ms'], 2000, 'acceptable-pause-ms', { min: -1 }),
      minStdDeviationMs: numberOption(values['min-std-deviation-ms'], 100, 'min-std-deviation-ms'),
    },
    stopMs: list(values['stop-ms'], quick ? [2000, 8000] : [5000, 30_000], 'stop-ms'),
    partitionMs: list(values['partition-ms'], quick ? [3000, 10_000] : [5000, 30_000], 'partition-ms'),
    settleMs: numberOption(values['settle-ms'], quick ? 8000 : 20_000, 'settle-ms', { min: -1 }),
    recoveryMs: numberOption(values['recovery-ms'], quick ? 10_000 : 30_000, 'recovery-ms'),
    terminatedWaitMs: numberOption(values['terminated-wait-ms'], quick ? 10_000 : 20_000, 'terminated-wait-ms'),
    help: values.help === true,
  }
}

// ---- cleanup, whatever way this process ends -----------------------------------------------------

let net: FaultNet | undefined
const cleanup = stopOnExit(() => {
  killAllNodes()
  net?.cleanup()
}, 'the nodes and removing the namespaces')

function variantsOf(opts: FaultsOptions): number {
  let n = 0
  for (const s of opts.scenarios)
    n += s === 'kill' ? 1 : s === 'stop' ? opts.stopMs.length : s === 'partition' ? opts.partitionMs.length : 2
  return n
}

async function main(): Promise<void> {
  const args = parseBenchArgs(parseOptions, USAGE)
  if (args === undefined) return
  const { argv, opts } = args
  const started = Date.now()
  const command = ['pnpm bench:faults', ...argv].join(' ')
  const detection = {
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    ...opts.failureDetector,
    ...detectionBound(opts.heartbeatIntervalMs, opts.failureDetector),
  }
  const progress = new Progress(opts.transports.length * variantsOf(opts))

  const unavailable = opts.netns ? netnsUnavailable() : '--no-netns given'
  const report: FaultsReport = {
    bench: 'faults',
    date: new Date().toISOString(),
    command,
    commit: commitOf(),
    machine: machineInfo(),
    mode: unavailable === undefined ? 'netns' : 'loopback',
    ...(unavailable !== undefined ? { modeNote: unavailable } : {}),
    options: { ...opts },
    detection,
    results: [],
    notes: [],
    durationSec: 0,
  }
  if (unavailable === undefined) {
    progress.note(`creating ${opts.nodes} network namespaces and a bridge`)
    net = createNetnsNet(opts.nodes)
  } else {
    progress.note(`partitions skipped: ${unavailable}; every node on 127.0.0.1`)
  }
  progress.note(detectionLine(report))

  let tls: { key: string; cert: string; ca: string } | undefined
  if (opts.transports.includes('tls')) {
    try {
      tls = makeClusterTls((net ?? { slots: [] }).slots.map((s) => s.host))
    } catch (err) {
      report.notes.push(`tls skipped: openssl failed (${(err as Error).message.split('\n')[0]})`)
    }
  }

  try {
    for (const transport of opts.transports) {
      if (transport === 'tls' && tls === undefined) continue
      const tNet = net ?? (await createLoopbackNet(opts.nodes, transport === 'udp', unavailable ?? ''))
      const ctx: ScenarioContext = { transport, net: tNet, opts, ...(tls !== undefined ? { tls } : {}), progress, output: process.stderr }
      const run = async (label: string, fn: () => Promise<ScenarioResult>): Promise<void> => {
        progress.step(`${transport} ${label}`)
        const r = await fn()
        report.results.push(r)
        progress.note(`  ${transport} ${r.variant}: ${headline(r)} (${(r.durationMs / 1000).toFixed(0)} s)`)
        progress.complete()
      }
      for (const s of opts.scenarios) {
        if (s === 'kill') await run('SIGKILL', () => runKill(ctx))
        if (s === 'stop') for (const d of opts.stopMs) await run(`SIGSTOP ${d / 1000} s`, () => runStop(ctx, d))
        if (s === 'partition') for (const d of opts.partitionMs) await run(`partition ${d / 1000} s`, () => runPartition(ctx, d))
        if (s === 'restart') {
          await run('restart at once', () => runRestart(ctx, false))
          await run('restart after quarantine', () => runRestart(ctx, true))
        }
      }
    }
  } finally {
    progress.end()
    cleanup()
  }

  report.durationSec = (Date.now() - started) / 1000
  const outDir = resolve(benchDir, opts.outDir)
  mkdirSync(outDir, { recursive: true })
  const stamp = report.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const jsonFile = join(outDir, `faults-${stamp}${opts.quick ? '-quick' : ''}.json`)
  // one line: the events of every node make it large, and it is read by tools (jq), not diffed
  writeFileSync(jsonFile, `${JSON.stringify(report)}\n`)
  if (opts.updateResults) updateResultsMd(join(benchDir, 'RESULTS.md'), renderMarkdownSection(report, relative(benchDir, jsonFile)))
  process.stdout.write(`${renderTables(report)}\n\n`)
  process.stdout.write(`wrote ${relative(process.cwd(), jsonFile)}${opts.updateResults ? ' and RESULTS.md' : ''}\n`)
  if (opts.json) process.stdout.write(`${jsonLine(report)}\n`)
}

runBenchMain('faults', main, cleanup)
