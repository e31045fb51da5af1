/**
 * Hostile input: every attack of issue 13 against a live node, one row per attack variant, each on
 * fresh processes (lib/hostileRun.ts says what a row measures, lib/hostileVariants.ts what each
 * variant does, tests/support/attacks.ts holds the attacks, shared with the quick hostile tests).
 * See the "hostile" section of RESULTS.md.
 *
 *   pnpm bench:hostile [--attack identities,dial] [--quick] [--json] [--update-results]   (--help for all)
 *
 * Prints a table and the targets as PASS/FAIL rows on stdout, progress on stderr, writes
 * results/hostile-<date>.json. With --json the last stdout line is {"bench":"hostile","results":[...]}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { devCertificates } from '@helios/transport/testing'
import { killAllNodes } from './lib/faultCluster.js'
import { type HostileReport, checksOf, jsonLine, renderTables, updateResultsMd, verdict } from './lib/hostileReport.js'
import { ATTACKS, type AttackName, type HostileOptions, runRow } from './lib/hostileRun.js'
import { allVariantIds, variantsOf } from './lib/hostileVariants.js'
import { machineInfo } from './lib/machine.js'
import { Progress } from './lib/progress.js'
import { commitOf, numberOption, runBenchMain, stopOnExit, userPath, parseBenchArgs } from './lib/benchProcess.js'

const benchDir = dirname(fileURLToPath(import.meta.url))

/** The rows of --quick: one per attack. */
const QUICK_VARIANTS = [
  'identities-tcp-user',
  'compression-tcp',
  'dial-tcp-reply',
  'dial-udp-reply',
  'slowloris-tcp',
  'queue-64KiB-unsent',
  'queue-64KiB',
  'queue-64KiB-reused',
  'udpflood',
  'fuzz-tcp',
  'fuzz-udp',
]

const USAGE = `pnpm bench:hostile [options]

  --attack identities,dial      attacks to run (default all): ${ATTACKS.join(', ')}
  --variant dial-udp,fuzz-tcp   rows to run, by id (default every row of the attacks chosen)
  --quick                       the short form (about 10 minutes): one row per attack (three for the
                                queue: its baseline, fresh buffers, one buffer reused), 8 identities,
                                fewer envelopes, connections and bytes, shorter windows
  --identities 24               spoofed identities (identity and compression attacks; quick 8)
  --seconds 20                  fuzz length (quick 5)
  --hold-ms 5000                how long an attack is held once sent (quick 2000)
  --after-ms 30000              longest watch after the attackers left (the target's 30 s; below it,
                                a victim not back within 20 MB of idle gets n/a, not FAIL)
  --settled-ms 10000            end that watch early once the victim stayed within 20 MB of its idle
                                RSS (and idle descriptors, no SYN-SENT) this long (0: never)
  --dial-envelopes 2000         tcp envelopes naming unknown nodes (quick 600)
  --udp-dial-envelopes 200      udp envelopes naming a third party
  --nofile 1024                 the tcp dial victim's descriptor limit (prlimit)
  --slowloris-connections 5000  (quick 2000)   --slowloris-ms 15000 (quick 6000)
  --queue-mib 1024              bytes pushed to a stopped receiver (quick 256)
  --queue-sizes 65536,1048576   message sizes (quick 65536), three rows each: -unsent (the same
                                buffers allocated, not sent: the baseline), fresh buffers, -reused
  --flood-frames 30000          udp frames of the flood
  --attacker 127.0.0.2          source address of the attackers
  --no-tls                      no slow-loris over tls
  --seed 12345                  seed of the fuzz rows
  --json                        last line printed: {"bench":"hostile","results":[...]}
  --out results                 directory for hostile-<date>.json
  --update-results              write this run's block in the hostile section of bench/RESULTS.md
  --from-json FILE              no run: write FILE's block into RESULTS.md (e.g. a run made in
                                another worktree)`

function parseOptions(argv: string[]): HostileOptions & {
  json: boolean
  updateResults: boolean
  outDir: string
  fromJson: string | undefined
  help: boolean
  selected: boolean
} {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      attack: { type: 'string' },
      variant: { type: 'string' },
      quick: { type: 'boolean', default: false },
      identities: { type: 'string' },
      seconds: { type: 'string' },
      'hold-ms': { type: 'string' },
      'after-ms': { type: 'string' },
      'settled-ms': { type: 'string' },
      'dial-envelopes': { type: 'string' },
      'udp-dial-envelopes': { type: 'string' },
      nofile: { type: 'string' },
      'slowloris-connections': { type: 'string' },
      'slowloris-ms': { type: 'string' },
      'queue-mib': { type: 'string' },
      'queue-sizes': { type: 'string' },
      'flood-frames': { type: 'string' },
      attacker: { type: 'string' },
      'no-tls': { type: 'boolean', default: false },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'update-results': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const quick = values.quick === true
  const attacks = (values.attack ?? ATTACKS.join(',')).split(',').map((s) => s.trim())
  for (const a of attacks) if (!(ATTACKS as readonly string[]).includes(a)) throw new Error(`unknown attack ${a} (${ATTACKS.join(', ')})`)
  const sizes = (values['queue-sizes'] ?? (quick ? '65536' : '65536,1048576')).split(',').map((s) => Number(s.trim()))
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--queue-sizes: positive integers')
  const o: HostileOptions = {
    attacks: attacks as AttackName[],
    variants: [],
    quick,
    identities: Math.round(numberOption(values.identities, quick ? 8 : 24, 'identities', { min: 1, orEqual: true })),
    holdMs: numberOption(values['hold-ms'], quick ? 2000 : 5000, 'hold-ms', { orEqual: true }),
    afterMs: numberOption(values['after-ms'], 30_000, 'after-ms', { orEqual: true }),
    settledMs: numberOption(values['settled-ms'], 10_000, 'settled-ms', { orEqual: true }),
    dialEnvelopes: Math.round(numberOption(values['dial-envelopes'], quick ? 600 : 2000, 'dial-envelopes', { min: 1, orEqual: true })),
    udpDialEnvelopes: Math.round(numberOption(values['udp-dial-envelopes'], 200, 'udp-dial-envelopes', { min: 1, orEqual: true })),
    nofile: Math.round(numberOption(values.nofile, 1024, 'nofile', { min: 64, orEqual: true })),
    slowlorisConnections: Math.round(
      numberOption(values['slowloris-connections'], quick ? 2000 : 5000, 'slowloris-connections', { min: 1, orEqual: true }),
    ),
    slowlorisMs: numberOption(values['slowloris-ms'], quick ? 6000 : 15_000, 'slowloris-ms', { min: 1000, orEqual: true }),
    queueBytes: Math.round(numberOption(values['queue-mib'], quick ? 256 : 1024, 'queue-mib', { min: 1, orEqual: true }) * 2 ** 20),
    queueMessageSizes: sizes,
    floodFrames: Math.round(numberOption(values['flood-frames'], 30_000, 'flood-frames', { min: 1, orEqual: true })),
    fuzzSeconds: numberOption(values.seconds, quick ? 5 : 20, 'seconds', { min: 1, orEqual: true }),
    fuzzSeed: values.seed === undefined ? undefined : Math.round(numberOption(values.seed, 0, 'seed', { orEqual: true })),
    attackerAddress: values.attacker ?? '127.0.0.2',
    pingIntervalMs: 10,
    pingTimeoutMs: 5000,
    pingLateMs: 500,
    probeTimeoutMs: 5000,
    tls: undefined,
  }
  const known = allVariantIds(o)
  const variants =
    values.variant === undefined
      ? quick && values.attack === undefined
        ? QUICK_VARIANTS
        : []
      : values.variant.split(',').map((s) => s.trim())
  for (const v of variants) if (!known.includes(v)) throw new Error(`unknown variant ${v} (${known.join(', ')})`)
  o.variants = variants
  if (values['no-tls'] === true && variants.includes('slowloris-tls')) throw new Error('--no-tls leaves out slowloris-tls')
  if (values['no-tls'] !== true && (values.variant === undefined || variants.includes('slowloris-tls'))) {
    const c = devCertificates()
    o.tls = { key: c.key, cert: c.cert, ca: c.ca }
  }
  return {
    ...o,
    json: values.json === true,
    updateResults: values['update-results'] === true,
    outDir: values.out ?? 'results',
    fromJson: values['from-json'],
    help: values.help === true,
    selected: values.attack !== undefined || values.variant !== undefined,
  }
}

const cleanup = stopOnExit(killAllNodes, 'the nodes')

async function main(): Promise<void> {
  const args = parseBenchArgs(parseOptions, USAGE, (o) => `rows: ${allVariantIds(o).join(', ')}`)
  if (args === undefined) return
  const { argv, opts } = args
  if (opts.fromJson !== undefined) {
    const file = userPath(opts.fromJson)
    const report = JSON.parse(readFileSync(file, 'utf8')) as HostileReport
    updateResultsMd(join(benchDir, 'RESULTS.md'), report, relative(benchDir, file))
    process.stdout.write(`${renderTables(report)}\n\nwrote its block into RESULTS.md\n`)
    return
  }
  const started = Date.now()
  const variants = variantsOf(opts)
  const progress = new Progress(variants.length)
  const { json: _j, updateResults: _u, outDir: _d, fromJson: _f, help: _h, selected: _s, tls: _t, ...shown } = opts
  const report: HostileReport = {
    bench: 'hostile',
    date: new Date().toISOString(),
    command: ['pnpm bench:hostile', ...argv].join(' '),
    commit: commitOf(),
    kind: opts.selected ? 'partial' : opts.quick ? 'quick' : 'full',
    machine: machineInfo(),
    options: shown,
    rows: [],
    loadStart: Math.round((loadavg()[0] as number) * 100) / 100,
    loadEnd: 0,
    durationSec: 0,
    notes: [],
  }
  progress.note(
    `commit ${report.commit}; load average ${report.loadStart}; ${variants.length} rows: ${variants.map((v) => v.id).join(', ')}`,
  )
  try {
    for (const v of variants) {
      progress.step(v.label)
      const row = await runRow(v, opts, progress, process.stderr)
      report.rows.push(row)
      const checks = checksOf(row, report.rows)
      progress.note(
        `  ${v.id}: RSS ${row.victim.idleRssMb} → peak ${row.victim.peakRssMb} → ${row.victim.afterRssMb} MB; pings lost ${row.pings?.lost ?? '-'} of ${row.pings?.sent ?? '-'}; ${checks.map((c) => verdict(c.ok)).join(' ')} (${(row.durationMs / 1000).toFixed(0)} s, load ${row.loadStart} → ${row.loadEnd})${row.error !== undefined ? `; error: ${row.error.split('\n')[0]}` : ''}`,
      )
      progress.complete()
    }
  } finally {
    progress.end()
    cleanup()
  }
  report.loadEnd = Math.round((loadavg()[0] as number) * 100) / 100
  report.durationSec = (Date.now() - started) / 1000
  const outDir = resolve(benchDir, opts.outDir)
  mkdirSync(outDir, { recursive: true })
  const stamp = report.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  const jsonFile = join(outDir, `hostile-${stamp}${report.kind === 'full' ? '' : `-${report.kind}`}.json`)
  writeFileSync(jsonFile, `${JSON.stringify(report)}\n`)
  if (opts.updateResults) updateResultsMd(join(benchDir, 'RESULTS.md'), report, relative(benchDir, jsonFile))
  process.stdout.write(`${renderTables(report)}\n\n`)
  process.stdout.write(`wrote ${relative(process.cwd(), jsonFile)}${opts.updateResults ? ' and RESULTS.md' : ''}\n`)
  if (opts.json) process.stdout.write(`${jsonLine(report)}\n`)
}

runBenchMain('hostile', main, cleanup)
