import type { Logger, LoggerOptions, LogLevel } from '@helios/actors'

/** One line a system wrote. */
export interface LogLine {
  readonly level: Exclude<LogLevel, 'silent'>
  readonly message: string
}

/** A logger that keeps what it is given, for tests that check what a user would see. */
export class CapturedLog implements Logger {
  readonly lines: LogLine[] = []
  private readonly waiters: { re: RegExp; resolve: (l: LogLine) => void }[] = []

  debug(message: string): void {
    this.push('debug', message)
  }
  info(message: string): void {
    this.push('info', message)
  }
  warn(message: string): void {
    this.push('warn', message)
  }
  error(message: string): void {
    this.push('error', message)
  }

  /** The `logger` option of a system writing here at `level` (default 'info'). */
  options(level: LogLevel = 'info', repeatIntervalMs?: number): LoggerOptions {
    return { level, sink: this, ...(repeatIntervalMs !== undefined ? { repeatIntervalMs } : {}) }
  }

  /** The messages matching `re`. */
  matching(re: RegExp): string[] {
    return this.lines.filter((l) => re.test(l.message)).map((l) => l.message)
  }

  /** Resolves with the first line (past or future) matching `re`; rejects after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs = 10_000): Promise<LogLine> {
    const found = this.lines.find((l) => re.test(l.message))
    if (found !== undefined) return Promise.resolve(found)
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no log line matching ${re} within ${timeoutMs} ms; got:\n${this.lines.map((l) => `${l.level} ${l.message}`).join('\n')}`,
            ),
          ),
        timeoutMs,
      )
      this.waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(timer)
          resolve(l)
        },
      })
    })
  }

  private push(level: LogLine['level'], message: string): void {
    const line = { level, message }
    this.lines.push(line)
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i] as (typeof this.waiters)[number]
      if (w.re.test(message)) {
        this.waiters.splice(i, 1)
        w.resolve(line)
      }
    }
  }
}
