/** Command-line options of soak.bench.ts. */
import { parseArgs } from 'node:util'
import type { Transport } from './workloads.js'
import { numberOption } from './benchProcess.js'

export interface SoakOptions {
  minutes: number
  /** Length of the no-churn baseline phase (0: none). */
  baselineMinutes: number
  churn: boolean
  paths: number
  clients: number
  window: number
  transports: Transport[]
  intervalS: number
  warmupS: number
  json: boolean
  outDir: string
  updateResults: boolean
  /** Re-render RESULTS.md from a saved results/soak-<date>.json instead of running. */
  fromJson: string | undefined
  help: boolean
}

export const USAGE = `pnpm bench:soak [options]

  --minutes 10            length of the churn phase (default 10)
  --paths 20000           distinct ping-pong actors (actor paths) created over the churn phase
  --baseline-minutes 2    length of the no-churn baseline phase, on fresh systems, run first
                          (default 2; 0: none)
  --no-churn              the baseline only (for --minutes)
  --transport tcp         tcp or udp; a list (tcp,udp) runs each in turn (default tcp)
  --clients 8             ping-pong actors at any time (one echo actor each on the other node)
  --window 50             pings in flight per ping-pong actor
  --interval 60           seconds per reported interval (default 60; --quick: 10)
  --warmup 5              seconds of unmeasured ping-pong before each phase
  --quick                 --minutes 1 --paths 2000 --baseline-minutes 0.5 --interval 10
  --json                  last line printed: {"bench":"soak",...}
  --out results           directory for soak-<date>.json
  --update-results        rewrite this transport's and commit's block of the soak section of RESULTS.md
  --from-json FILE        only rewrite RESULTS.md from a results/soak-<date>.json (e.g. one measured in another worktree)`

/** Parses argv; throws with a readable message on bad input. */
export function parseSoakOptions(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string' },
      'baseline-minutes': { type: 'string' },
      'no-churn': { type: 'boolean', default: false },
      paths: { type: 'string' },
      transport: { type: 'string' },
      transports: { type: 'string' },
      clients: { type: 'string' },
      window: { type: 'string' },
      interval: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'update-results': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const quick = values.quick === true
  const transports = (values.transport ?? values.transports ?? 'tcp').split(',').map((s) => s.trim())
  for (const t of transports) if (t !== 'tcp' && t !== 'udp') throw new Error(`--transport takes tcp or udp, not ${t}`)
  const minutes = numberOption(values.minutes, quick ? 1 : 10, 'minutes')
  return {
    minutes,
    baselineMinutes: numberOption(values['baseline-minutes'], quick ? 0.5 : 2, 'baseline-minutes', { orEqual: true }),
    churn: values['no-churn'] !== true,
    paths: Math.round(numberOption(values.paths, quick ? 2_000 : 20_000, 'paths')),
    clients: Math.round(numberOption(values.clients, 8, 'clients')),
    window: Math.round(numberOption(values.window, 50, 'window')),
    transports: transports as Transport[],
    intervalS: numberOption(values.interval, quick ? 10 : 60, 'interval'),
    warmupS: numberOption(values.warmup, 5, 'warmup', { orEqual: true }),
    json: values.json === true,
    outDir: values.out ?? 'results',
    updateResults: values['update-results'] === true,
    fromJson: values['from-json'],
    help: values.help === true,
  }
}
