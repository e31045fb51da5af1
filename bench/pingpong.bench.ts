/**
 * RemotePingPong for helios-ts: a port of Akka.NET's remoting benchmark plus round-trip latency
 * and one-way throughput, each measured through @helios/actors and against a raw framed-socket
 * baseline in the same run (see lib/ and the "pingpong" section of RESULTS.md).
 *
 *   pnpm bench:pingpong [--quick] [--json] [--in-process] [--update-results] [--check-targets half] ...   (--help for all)
 *
 * Prints tables on stdout and progress on stderr, writes results/pingpong-<date>.json and
 * results/pingpong.svg (pingpong-quick.svg for --quick). With --json the last stdout line is
 * {"bench":"pingpong","results":[...]}.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseOptions, USAGE } from './lib/options.js'
import { killAllChildren } from './lib/peer.js'
import { Progress } from './lib/progress.js'
import { jsonLine, renderMarkdownSection, renderSvg, renderTables, updateResultsMd } from './lib/report.js'
import { runBench, stepCount } from './lib/runner.js'
import { checkTargets, verdict } from './lib/targets.js'
import { runBenchMain, parseBenchArgs } from './lib/benchProcess.js'

const benchDir = dirname(fileURLToPath(import.meta.url))

async function main(): Promise<void> {
  const args = parseBenchArgs(parseOptions, USAGE)
  if (args === undefined) return
  const { argv, opts } = args
  opts.outDir = resolve(benchDir, opts.outDir)
  const command = ['pnpm bench:pingpong', ...argv].join(' ')
  const progress = new Progress(stepCount(opts))
  let report
  try {
    report = await runBench(opts, progress, command)
  } finally {
    progress.end()
  }

  const outDir = opts.outDir
  mkdirSync(outDir, { recursive: true })
  const stamp = report.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const jsonFile = join(outDir, `pingpong-${stamp}${opts.quick ? '-quick' : ''}.json`)
  writeFileSync(jsonFile, `${JSON.stringify({ ...report, targets: checkTargets(report) }, null, 2)}\n`)
  const svgFile = join(outDir, opts.quick ? 'pingpong-quick.svg' : 'pingpong.svg')
  writeFileSync(svgFile, renderSvg(report))
  if (opts.updateResults) {
    updateResultsMd(join(benchDir, 'RESULTS.md'), renderMarkdownSection(report, relative(benchDir, jsonFile)))
  }

  process.stdout.write(`${renderTables(report)}\n`)
  process.stdout.write(
    `wrote ${relative(process.cwd(), jsonFile)} and ${relative(process.cwd(), svgFile)}${opts.updateResults ? ' and RESULTS.md' : ''}\n`,
  )
  if (opts.json) process.stdout.write(`${jsonLine(report)}\n`)
  if (opts.checkTargets !== undefined) {
    // The gate: every target (loosened by half for 'half') met; a figure that could not be measured fails too.
    const checks = checkTargets(report, opts.checkTargets === 'half' ? 0.5 : 1)
    const failed = checks.filter((c) => c.ok !== true)
    process.stdout.write(`\ntargets ${opts.checkTargets === 'half' ? 'loosened by half (a gross regression fails)' : 'as set'}:\n`)
    for (const c of checks) process.stdout.write(`  ${verdict(c.ok).padEnd(4)}  ${c.target.padEnd(44)}  ${c.measured}\n`)
    process.stdout.write(
      failed.length === 0 ? 'benchmark gate: passed\n' : `benchmark gate: FAILED (${failed.length} of ${checks.length})\n`,
    )
    if (failed.length > 0) process.exitCode = 1
  }
}

runBenchMain('pingpong', main, killAllChildren)
