/** Something the dispatcher can run: an actor cell with work to do. */
export interface Runnable {
  /** Handles up to `throughput` messages; returns how many were handled. */
  run(throughput: number): number
}

/**
 * Runs ready actors on the event loop. A cell with work is queued once (the cell tracks that);
 * one drain runs queued cells, each for at most `throughput` messages, until the queue is empty or
 * `messagesPerTurn` messages were handled; then it yields with `setImmediate`, so timers and I/O
 * get their turn. The first drain starts as a microtask: a message that arrived from the network
 * is handled (and its reply written) before the event loop moves on, which takes a loop phase off
 * every remote round trip (measured: p50 of a one-in-flight round trip over TCP ~107 -> ~72 us).
 * No promise or closure per message.
 */
export class Dispatcher {
  readonly throughput: number
  readonly messagesPerTurn: number
  #queue: (Runnable | undefined)[] = new Array<Runnable | undefined>(64)
  #mask = 63
  #head = 0
  #size = 0
  #scheduled = false
  readonly #drain = (): void => this.#run()

  constructor(throughput = 100, messagesPerTurn = 10_000) {
    this.throughput = throughput
    this.messagesPerTurn = messagesPerTurn
  }

  /** Queues a cell that has work and is not already queued. */
  schedule(cell: Runnable): void {
    if (this.#size > this.#mask) this.#grow()
    this.#queue[(this.#head + this.#size) & this.#mask] = cell
    this.#size++
    if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#drain)
    }
  }

  #run(): void {
    let budget = this.messagesPerTurn
    while (this.#size > 0 && budget > 0) {
      const cell = this.#queue[this.#head] as Runnable
      this.#queue[this.#head] = undefined
      this.#head = (this.#head + 1) & this.#mask
      this.#size--
      budget -= cell.run(this.throughput)
    }
    if (this.#size > 0) setImmediate(this.#drain)
    else this.#scheduled = false
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
