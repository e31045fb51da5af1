/**
 * The churn soak (issue 13): two actor-system processes over one association (tcp, or udp),
 * ping-pong at full rate for --minutes while ping-pong actors are created and stopped, so that
 * --paths distinct actor paths cross the association (far more than its compression tables hold),
 * and the same ping-pong without churn as the baseline, each phase on fresh systems. Prints the
 * throughput per interval (a minute by default), the share of actor paths sent compressed, both
 * processes' RSS and the load average, and the target "throughput after the churn >= 0.9 of the
 * first interval's" as PASS/FAIL.
 *
 *   pnpm bench:soak [--minutes 10] [--paths 20000] [--transport tcp,udp] [--quick] [--json] [--update-results]   (--help for all)
 *
 * Writes results/soak-<date>.json; with --json the last stdout line is {"bench":"soak",...}.
 * The default run takes about 12 minutes per transport and keeps both cores busy.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadHelios } from './lib/heliosApi.js'
import { machineInfo } from './lib/machine.js'
import { Progress } from './lib/progress.js'
import { parseSoakOptions, USAGE } from './lib/soakOptions.js'
import { killSoakNodes, SoakNode } from './lib/soakProtocol.js'
import { jsonLine, renderTables, type SoakReport, updateResultsMd } from './lib/soakReport.js'
import { type PhaseResult, type PhaseSpec, runPhase } from './lib/soakRun.js'
import { commitOf, runBenchMain, userPath, parseBenchArgs } from './lib/benchProcess.js'

const benchDir = dirname(fileURLToPath(import.meta.url))

async function main(): Promise<void> {
  const args = parseBenchArgs(parseSoakOptions, USAGE)
  if (args === undefined) return
  const { argv, opts } = args
  const outDir = resolve(benchDir, opts.outDir)
  if (opts.fromJson !== undefined) {
    const file = userPath(opts.fromJson)
    const report = JSON.parse(readFileSync(file, 'utf8')) as SoakReport
    updateResultsMd(join(benchDir, 'RESULTS.md'), report, relative(benchDir, file))
    process.stdout.write(`${renderTables(report)}\nwrote RESULTS.md from ${relative(process.cwd(), file)}\n`)
    return
  }
  const loaded = await loadHelios()
  if (!loaded.ok) throw new Error(loaded.reason)

  const specs: PhaseSpec[] = []
  for (const transport of opts.transports) {
    const base = { transport, intervalMs: opts.intervalS * 1000, warmupMs: opts.warmupS * 1000, clients: opts.clients, window: opts.window }
    if (!opts.churn) {
      specs.push({ ...base, kind: 'baseline', durationMs: opts.minutes * 60_000, paths: opts.clients })
      continue
    }
    if (opts.baselineMinutes > 0) specs.push({ ...base, kind: 'baseline', durationMs: opts.baselineMinutes * 60_000, paths: opts.clients })
    specs.push({ ...base, kind: 'churn', durationMs: opts.minutes * 60_000, paths: opts.paths })
  }

  const command = ['pnpm bench:soak', ...argv].join(' ')
  const started = Date.now()
  const date = new Date().toISOString()
  const progress = new Progress(specs.length)
  const node = await SoakNode.spawn()
  const phases: PhaseResult[] = []
  try {
    for (const spec of specs) {
      progress.step(`${spec.transport} ${spec.kind}, ${spec.durationMs / 60_000} min`)
      phases.push(await runPhase(loaded.ActorSystem, node, spec, progress))
      progress.complete()
    }
  } finally {
    progress.end()
    await node.close()
  }

  const report: SoakReport = {
    bench: 'soak',
    date,
    commit: commitOf(),
    command,
    durationS: Math.round((Date.now() - started) / 1000),
    machine: machineInfo(),
    options: {
      minutes: opts.minutes,
      baselineMinutes: opts.churn ? opts.baselineMinutes : 0,
      paths: opts.paths,
      clients: opts.clients,
      window: opts.window,
      intervalS: opts.intervalS,
      warmupS: opts.warmupS,
    },
    phases,
  }
  mkdirSync(outDir, { recursive: true })
  const stamp = date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const jsonFile = join(outDir, `soak-${stamp}.json`)
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
  if (opts.updateResults) updateResultsMd(join(benchDir, 'RESULTS.md'), report, relative(benchDir, jsonFile))
  process.stdout.write(`${renderTables(report)}\n\n`)
  process.stdout.write(`wrote ${relative(process.cwd(), jsonFile)}${opts.updateResults ? ' and RESULTS.md' : ''}\n`)
  if (opts.json) process.stdout.write(`${jsonLine(report)}\n`)
}

runBenchMain('soak', main, killSoakNodes)
