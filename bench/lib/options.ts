/** Command-line options of pingpong.bench.ts. */
import { parseArgs } from 'node:util'
import { TRANSPORTS, type Transport } from './workloads.js'
import { numberOption } from './benchProcess.js'

export interface BenchOptions {
  quick: boolean
  json: boolean
  inProcess: boolean
  clients: number[]
  replies: number
  window: number
  transports: Transport[]
  /** Cap per ping-pong case (each side, each round). */
  maxCaseMs: number
  /** Ping-pong rounds per N and side; the best round is reported. */
  rounds: number
  latencyWarmup: number
  latencyCount: number
  latencyPayload: number
  latencyTransports: Transport[]
  onewaySizes: number[]
  onewayMessages: number
  onewayTransports: Transport[]
  raw: boolean
  project: boolean
  outDir: string
  updateResults: boolean
  /** Write CPU profiles of both sides to <out>/profiles. */
  cpuProf: boolean
  /**
   * Exit with 1 when a target is missed ('full') or missed by more than half ('half': a lower bound
   * x becomes x/2, an upper bound 2x); undefined: report only.
   */
  checkTargets: 'full' | 'half' | undefined
  help: boolean
}

export const USAGE = `pnpm bench:pingpong [options]

  --quick                 fewer N and replies, same shape (under a minute)
  --json                  last line printed: {"bench":"pingpong","results":[...]}
  --in-process            both actor systems in one process (default: two processes)
  --clients 1,5,10        client counts N (default 1,5,10,15,20,25,30; quick 1,10,30)
  --replies 100000        replies per client (quick 10000)
  --window 50             messages in flight per client
  --transports tcp,tls,udp,dtls
  --dtls-mtu 1280         remote.dtls.mtu of both actor systems over dtls (default: the project's, 1280)
  --max-case-ms 2500      time cap per ping-pong case, side and round (quick 1200)
  --rounds 2              ping-pong rounds per N, alternating which side goes first;
                          the best round of each side is reported
  --latency-count 10000   measured round trips (quick 2000); --latency-warmup 2000
  --latency-transports tcp,tls,udp,dtls
  --oneway-sizes 100,4096 --oneway-messages 300000 --oneway-transports tcp
  --raw-only | --project-only
  --out results           directory for pingpong-<date>.json and pingpong.svg
  --update-results        rewrite the pingpong section of bench/RESULTS.md
  --cpu-prof              CPU profiles of side A and side B into <out>/profiles/
  --check-targets half    exit 1 when a target of issue 5 is missed by more than half (a ratio
                          below half its bound, a latency ratio or RSS above twice its bound) or
                          cannot be measured; 'full' checks the targets themselves (CI: half)`

function list(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback
  const out = value.split(',').map((s) => Number(s.trim()))
  if (out.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`not a list of positive integers: ${value}`)
  return out
}

function transports(value: string | undefined, fallback: readonly Transport[]): Transport[] {
  if (value === undefined) return [...fallback]
  const out = value.split(',').map((s) => s.trim())
  for (const t of out) if (!(TRANSPORTS as readonly string[]).includes(t)) throw new Error(`unknown transport ${t}`)
  return out as Transport[]
}

/** Parses argv; throws with a readable message on bad input. */
export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'in-process': { type: 'boolean', default: false },
      clients: { type: 'string' },
      replies: { type: 'string' },
      window: { type: 'string' },
      transports: { type: 'string' },
      'max-case-ms': { type: 'string' },
      rounds: { type: 'string' },
      'latency-warmup': { type: 'string' },
      'latency-count': { type: 'string' },
      'latency-transports': { type: 'string' },
      'oneway-sizes': { type: 'string' },
      'oneway-messages': { type: 'string' },
      'oneway-transports': { type: 'string' },
      'raw-only': { type: 'boolean', default: false },
      'project-only': { type: 'boolean', default: false },
      out: { type: 'string' },
      'update-results': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'check-targets': { type: 'string' },
      'dtls-mtu': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const quick = values.quick === true
  const gate = values['check-targets']
  if (gate !== undefined && gate !== 'full' && gate !== 'half') throw new Error(`--check-targets takes full or half, not ${gate}`)
  const selected = transports(values.transports, TRANSPORTS)
  if (values['dtls-mtu'] !== undefined)
    process.env['HELIOS_BENCH_DTLS_MTU'] = String(Math.round(numberOption(values['dtls-mtu'], 1280, 'dtls-mtu')))
  return {
    quick,
    json: values.json === true,
    inProcess: values['in-process'] === true,
    clients: list(values.clients, quick ? [1, 10, 30] : [1, 5, 10, 15, 20, 25, 30]),
    replies: numberOption(values.replies, quick ? 10_000 : 100_000, 'replies'),
    window: numberOption(values.window, 50, 'window'),
    transports: selected,
    maxCaseMs: numberOption(values['max-case-ms'], quick ? 1_200 : 2_500, 'max-case-ms'),
    rounds: Math.round(numberOption(values.rounds, 2, 'rounds')),
    latencyWarmup: numberOption(values['latency-warmup'], quick ? 500 : 2_000, 'latency-warmup'),
    latencyCount: numberOption(values['latency-count'], quick ? 2_000 : 10_000, 'latency-count'),
    latencyPayload: 100,
    latencyTransports: transports(values['latency-transports'], selected),
    onewaySizes: list(values['oneway-sizes'], [100, 4096]),
    onewayMessages: numberOption(values['oneway-messages'], quick ? 50_000 : 300_000, 'oneway-messages'),
    onewayTransports: transports(values['oneway-transports'], ['tcp']),
    raw: values['project-only'] !== true,
    project: values['raw-only'] !== true,
    outDir: values.out ?? 'results',
    updateResults: values['update-results'] === true,
    cpuProf: values['cpu-prof'] === true,
    checkTargets: gate,
    help: values.help === true,
  }
}
