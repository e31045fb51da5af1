import type { Clock } from '../Clock.js'
import type { Logger, LoggerOption, LoggerOptions, LogLevel } from '../Logger.js'
import { RepeatLimiter } from './RepeatLimiter.js'

const RANK: { readonly [L in LogLevel]: number } = { debug: 10, info: 20, warn: 30, error: 40, silent: Number.POSITIVE_INFINITY }
const LABEL: { readonly [L in Exclude<LogLevel, 'silent'>]: string } = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' }
const DEFAULT_REPEAT_INTERVAL_MS = 10_000

/** The level used when the `logger` option is absent: `HELIOS_LOG_LEVEL` if valid, else `'warn'`. */
function levelFromEnvironment(): LogLevel {
  const v = process.env['HELIOS_LOG_LEVEL']?.trim().toLowerCase()
  return v !== undefined && v in RANK ? (v as LogLevel) : 'warn'
}

function isLogger(o: LoggerOption): o is Logger {
  return typeof o === 'object' && typeof (o as Logger).warn === 'function'
}

/** One line of trouble, and how its repeats are counted. */
interface Occurrence {
  readonly level: Exclude<LogLevel, 'silent'>
  readonly message: () => string
  readonly repeats: (n: number) => string
}

/**
 * An actor system's log: the `logger` option resolved (level, sink, repeat interval), with
 * per-kind rate limiting so that a flood of one kind of trouble writes its first line and then one
 * count per interval. Lines are built only when their level is enabled.
 */
export class SystemLog {
  /** The lowest rank written. */
  private readonly threshold: number
  private readonly sink: Logger | undefined
  /** The interval of the count lines (`repeatIntervalMs`, default 10 s); the remoting's events about refused peers use it too. */
  readonly intervalMs: number
  private readonly repeats: RepeatLimiter<Occurrence>

  constructor(
    option: LoggerOption | undefined,
    readonly clock: Clock,
    private readonly who: () => string,
  ) {
    let o: LoggerOptions
    if (option === undefined) o = { level: levelFromEnvironment() }
    else if (typeof option === 'string') o = { level: option }
    else if (isLogger(option)) o = { sink: option }
    else o = option
    const level = o.level ?? 'warn'
    if (!(level in RANK)) throw new TypeError(`logger level must be one of debug, info, warn, error, silent; got ${JSON.stringify(level)}`)
    this.threshold = RANK[level]
    this.sink = o.sink
    this.intervalMs = o.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS
    this.repeats = new RepeatLimiter({
      clock,
      intervalMs: this.intervalMs,
      publish: (e, count, elapsedMs) => {
        if (count === undefined) this.write(e.level, e.message())
        else this.write(e.level, `${e.repeats(count)} (in the last ${Math.max(1, Math.round(elapsedMs / 1000))} s)`)
      },
    })
  }

  /** True when lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold
  }

  /** Writes one line now, with no rate limit (for what happens once: a node started). */
  write(level: Exclude<LogLevel, 'silent'>, message: string): void {
    if (RANK[level] < this.threshold) return
    let who: string
    try {
      who = this.who()
    } catch {
      who = '?'
    }
    const sink = this.sink
    if (sink === undefined) {
      process.stderr.write(`${new Date().toISOString()} ${LABEL[level]} [${who}] ${message}\n`)
      return
    }
    try {
      sink[level]?.(`[${who}] ${message}`)
    } catch {
      // A logger that throws must not disturb the system.
    }
  }

  /**
   * One occurrence of trouble of kind `kind` (standing for `n` messages when it counts several).
   * The first in an interval is written as `message()`; later ones are counted and written when
   * the interval ends as `repeats(count)` followed by the interval's length.
   */
  report(level: Exclude<LogLevel, 'silent'>, kind: string, message: () => string, repeats: (n: number) => string, n = 1): void {
    if (RANK[level] < this.threshold) return
    this.repeats.occur(kind, { level, message, repeats }, n)
  }

  /** Writes every pending count now (at terminate). */
  flush(): void {
    this.repeats.flush()
  }
}

/** `n` with an English plural: `plural(2, 'message')` is `2 messages`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
