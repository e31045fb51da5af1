/**
 * What every benchmark program does around its measurements: name the commit it measured, stop
 * its children whatever way it ends, and exit.
 */
import { execFileSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The commit measured, and whether packages/ had uncommitted changes (HELIOS_BENCH_COMMIT outside a git checkout). */
export function commitOf(): string {
  try {
    const git = (args: string[]): string =>
      execFileSync('git', args, { cwd: benchDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const head = git(['rev-parse', '--short', 'HEAD'])
    const dirty = git(['status', '--porcelain', '--', '../packages']) !== ''
    return `${head}${dirty ? ' + uncommitted changes in packages/' : ''}`
  } catch {
    return process.env['HELIOS_BENCH_COMMIT'] ?? 'unknown (not a git checkout)'
  }
}

/**
 * Runs `stop` once when the process exits or gets SIGINT, SIGTERM or SIGHUP (then exits with
 * 128 + the signal's number, saying `stopping ${what}`); returns it, idempotent, to call earlier.
 */
export function stopOnExit(stop: () => void, what: string): () => void {
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    try {
      stop()
    } catch (err) {
      process.stderr.write(`cleanup failed: ${(err as Error).message}\n`)
    }
  }
  process.on('exit', once)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${what}\n`)
      // One turn first: tsx's launcher SIGKILLs a child that does not confirm the signal within
      // 30 ms, and the confirmation goes out over a socket (the cleanup may block for longer).
      setTimeout(() => {
        once()
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
      }, 5)
    })
  }
  return once
}

/**
 * Runs a benchmark's `main`, then `cleanup` (its child processes), and exits: at once with 1 and
 * the stack on stderr when it failed, else 200 ms later (sockets of a failed or skipped side must
 * not keep the process alive).
 */
export function runBenchMain(name: string, main: () => Promise<void>, cleanup: () => void): void {
  main().then(
    () => {
      cleanup()
      setTimeout(() => process.exit(), 200).unref()
    },
    (err: unknown) => {
      cleanup()
      process.stderr.write(`${name} bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}

/**
 * A benchmark's command line: its arguments (without the `--` that pnpm passes on) and its options
 * as `parse` reads them. Undefined when there is nothing to run: a bad option (its message and
 * `usage` on stderr, exit code 2) or `--help` (`usage`, then `helpMore(opts)` if given, on stdout).
 */
export function parseBenchArgs<T extends { readonly help: boolean }>(
  parse: (argv: string[]) => T,
  usage: string,
  helpMore?: (opts: T) => string,
): { argv: string[]; opts: T } | undefined {
  const argv = process.argv.slice(2).filter((a) => a !== '--')
  let opts: T
  try {
    opts = parse(argv)
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage}\n`)
    process.exitCode = 2
    return undefined
  }
  if (opts.help) {
    process.stdout.write(`${usage}${helpMore === undefined ? '' : `\n\n${helpMore(opts)}`}\n`)
    return undefined
  }
  return { argv, opts }
}

/**
 * A path the user typed on the command line: pnpm runs the benchmarks in bench/, so a relative
 * path is taken from where pnpm was started (INIT_CWD).
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path)
}

/**
 * A numeric command-line option: `fallback` when absent; otherwise a finite number above `min`
 * (default 0), or at least `min` with `orEqual`; anything else throws a readable error.
 */
export function numberOption(
  value: string | undefined,
  fallback: number,
  name: string,
  { min = 0, orEqual = false }: { min?: number; orEqual?: boolean } = {},
): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || (n === min && !orEqual)) throw new Error(`--${name} needs a number ${orEqual ? '>=' : '>'} ${min}`)
  return n
}
