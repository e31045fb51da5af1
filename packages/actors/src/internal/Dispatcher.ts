/** Something the dispatcher can run: an actor cell with work to do. */
export interface Runnable {
  /** Handles up to `throughput` messages; returns how many were handled. */
  run(throughput: number): number
}

/**
 * Runs ready actors on the event loop. A cell with work is queued once (the cell tracks that);
 * one drain runs queued cells, each for at most `throughput` messages, until the queue is empty or
 * `messagesPerTurn` messages were handled; then it yields with `setImmediate`, so timers and I/O
 * get their turn. The first drain starts as a microtask, or earlier: the remoting calls
 * {@link runNow} once a socket read is decoded, so a message that arrived from the network is
 * handled and its reply written inside the same I/O callback (one-in-flight round trips over TCP:
 * p50 ~107 us with a setImmediate drain, ~72 us with a microtask, less again with runNow; see
 * bench/RESULTS.md). No promise or closure per message.
 */
export class Dispatcher {
  readonly throughput: number
  readonly messagesPerTurn: number
  #queue: (Runnable | undefined)[] = new Array<Runnable | undefined>(64)
  #mask = 63
  #head = 0
  #size = 0
  /** A microtask drain is queued. */
  #scheduled = false
  /** A drain spent its budget and yielded: the setImmediate drain is queued. */
  #yielding = false
  #running = false
  readonly #drain = (): void => {
    this.#scheduled = false
    // After a yield only the setImmediate drain goes on: timers and I/O get their turn first.
    if (!this.#yielding) this.#run()
  }
  readonly #drainAfterYield = (): void => {
    this.#yielding = false
    this.#run()
  }

  constructor(throughput = 100, messagesPerTurn = 10_000) {
    this.throughput = throughput
    this.messagesPerTurn = messagesPerTurn
  }

  /** Queues a cell that has work and is not already queued. */
  schedule(cell: Runnable): void {
    if (this.#size > this.#mask) this.#grow()
    this.#queue[(this.#head + this.#size) & this.#mask] = cell
    this.#size++
    // A running drain picks the cell up itself (or hands it to setImmediate when its budget is spent).
    if (!this.#scheduled && !this.#running && !this.#yielding) {
      this.#scheduled = true
      queueMicrotask(this.#drain)
    }
  }

  /**
   * Runs the queued actors now instead of in the queued microtask. Only for the top of an I/O
   * callback (the remoting calls it when a socket read has been decoded): the reply to a message
   * that just arrived is then written before the stream machinery unwinds. A drain already
   * running is not re-entered, and after a drain yielded (budget spent) nothing runs before the
   * setImmediate drain, so however many reads a turn brings, actors get one budget per turn.
   */
  runNow(): void {
    // After a yield, messages wait for the setImmediate drain like any others: one budget per turn.
    if (this.#size > 0 && !this.#yielding) this.#run()
  }

  #run(): void {
    if (this.#running) return
    this.#running = true
    let budget = this.messagesPerTurn
    try {
      while (this.#size > 0 && budget > 0) {
        const cell = this.#queue[this.#head] as Runnable
        this.#queue[this.#head] = undefined
        this.#head = (this.#head + 1) & this.#mask
        this.#size--
        budget -= cell.run(this.throughput)
      }
    } finally {
      this.#running = false
      // Budget spent (or a cell threw): the rest runs after timers and I/O had their turn.
      if (this.#size > 0 && !this.#yielding) {
        this.#yielding = true
        setImmediate(this.#drainAfterYield)
      }
    }
  }

  #grow(): void {
    const n = this.#mask + 1
    const queue = new Array<Runnable | undefined>(n * 2)
    for (let k = 0; k < n; k++) queue[k] = this.#queue[(this.#head + k) & this.#mask]
    this.#queue = queue
    this.#head = 0
    this.#mask = n * 2 - 1
  }
}
