/** Which kind of idleness an {@link IdleStateEvent} reports. */
export const IdleState = {
  /** Nothing was read for `readerIdleMs`. */
  ReaderIdle: 'readerIdle',
  /** Nothing was written (flushed) for `writerIdleMs`. */
  WriterIdle: 'writerIdle',
  /** Nothing was read or written for `allIdleMs`. */
  AllIdle: 'allIdle',
} as const

/** Which kind of idleness an {@link IdleStateEvent} reports. */
export type IdleState = (typeof IdleState)[keyof typeof IdleState]

/**
 * User event fired by an `IdleStateHandler` when a channel was idle for the configured time.
 * The six possible events are preallocated constants (compare with `===` or read the fields);
 * `first` is true for the first event of an idle period and false for the repeats.
 *
 * @example
 * ```ts
 * userEventTriggered(ctx, event) {
 *   if (event instanceof IdleStateEvent && event.state === IdleState.ReaderIdle) ctx.close()
 *   else ctx.fireUserEventTriggered(event)
 * }
 * ```
 */
export class IdleStateEvent {
  /** The first reader-idle event since the last read. */
  static readonly FIRST_READER_IDLE = new IdleStateEvent(IdleState.ReaderIdle, true)
  /** A further reader-idle event. */
  static readonly READER_IDLE = new IdleStateEvent(IdleState.ReaderIdle, false)
  /** The first writer-idle event since the last write. */
  static readonly FIRST_WRITER_IDLE = new IdleStateEvent(IdleState.WriterIdle, true)
  /** A further writer-idle event. */
  static readonly WRITER_IDLE = new IdleStateEvent(IdleState.WriterIdle, false)
  /** The first idle event of both directions. */
  static readonly FIRST_ALL_IDLE = new IdleStateEvent(IdleState.AllIdle, true)
  /** A further idle event of both directions. */
  static readonly ALL_IDLE = new IdleStateEvent(IdleState.AllIdle, false)

  private constructor(
    /** Which kind of idleness. */
    readonly state: IdleState,
    /** The first event of this idle period (not a repeat). */
    readonly first: boolean,
  ) {}

  /** `IdleStateEvent(state[, first])`. */
  toString(): string {
    return `IdleStateEvent(${this.state}${this.first ? ', first' : ''})`
  }
}
