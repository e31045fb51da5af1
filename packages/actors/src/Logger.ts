/**
 * Severity of a log line, lowest first. `'silent'` as a level writes nothing.
 *
 * What an actor system writes at each level:
 * - `error`: an actor's behavior threw or rejected (the actor was stopped); an event listener threw.
 * - `warn`: trouble: a message dropped (class not registered, too large, outbound queue full,
 *   lost in transit, not confirmed when an association ended, undecodable), a peer that refuses
 *   connections, a handshake refused (wrong system name or address, quarantined uid, restart
 *   claim refused, TLS verification, timeout), an association quarantined (unreachable, down,
 *   restarted, overflow), this node quarantined by a peer (`HELIOS_QUARANTINED`), this process
 *   paused (`HELIOS_PAUSED`).
 * - `info`: remoting started, associations made and lost (they may reconnect), a peer that shut
 *   down, dead letters.
 * - `debug`: nothing more today; `NODE_DEBUG=helios` traces the internals.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** Every {@link LogLevel}, lowest first. */
export const LogLevels: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error', 'silent'])

/**
 * Where an actor system's log lines go: anything with these methods (`console`, or an adapter of
 * your logging library). Each call gets one line, without a trailing newline, that starts with the
 * system's address in brackets. A method that throws is ignored.
 */
export interface Logger {
  /** A `debug` line (optional: lines of that level are skipped when it is missing). */
  debug?(message: string): void
  /** An `info` line. */
  info(message: string): void
  /** A `warn` line. */
  warn(message: string): void
  /** An `error` line. */
  error(message: string): void
}

/** The {@link ActorSystemOptions.logger | logger} option in full. */
export interface LoggerOptions {
  /**
   * Lines below this level are not written. Default `'warn'` (or the `HELIOS_LOG_LEVEL`
   * environment variable when the `logger` option is not given at all).
   */
  readonly level?: LogLevel
  /** Where lines go. Default: standard error, one line per event with a timestamp and the level. */
  readonly sink?: Logger
  /**
   * No floods: the first occurrence of each kind of trouble (say, messages to one node dropped
   * because its queue is full) is written at once; further ones within this interval are counted
   * and written as one line with their count when it ends (and at `terminate()`). Default 10 000 ms.
   */
  readonly repeatIntervalMs?: number
}

/**
 * The `logger` option of `ActorSystem.create`: a level (`'silent'` turns logging off), your own
 * {@link Logger} (at level `'warn'`), or {@link LoggerOptions}.
 */
export type LoggerOption = LogLevel | Logger | LoggerOptions
