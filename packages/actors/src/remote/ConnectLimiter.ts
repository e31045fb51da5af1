/** Why a connect waiting for a slot did not start. */
export class ConnectNotStartedError extends Error {
  readonly code = 'ERR_CONNECT_NOT_STARTED'
}

interface Waiter {
  readonly start: () => void
}

/**
 * Bounds the outbound connects of a node that are in flight at once (TCP connect, and the TLS
 * handshake with it). Connects to addresses nobody vouched for (replies to paths read from the
 * wire: `unverified`) get a small share of the slots and a bounded waiting line, so that a flood of
 * envelopes naming strangers can neither exhaust the node's descriptors nor delay the connects of
 * the peers it really talks to (those always go first).
 */
export class ConnectLimiter {
  private inFlight = 0
  private unverifiedInFlight = 0
  private readonly waiting: Waiter[] = []
  private readonly waitingUnverified: Waiter[] = []

  /**
   * @param max connects in flight at most.
   * @param maxUnverified of which at most this many to unverified addresses.
   * @param maxUnverifiedWaiting unverified connects waiting for a slot at most; beyond, they fail at once.
   */
  constructor(
    readonly max: number,
    readonly maxUnverified: number,
    readonly maxUnverifiedWaiting: number,
  ) {}

  /** Connects in flight now (both kinds). */
  get active(): number {
    return this.inFlight
  }

  /** Connects waiting for a slot now (both kinds). */
  get queued(): number {
    return this.waiting.length + this.waitingUnverified.length
  }

  /**
   * Runs `connect` once a slot is free. Rejects with {@link ConnectNotStartedError} when `signal`
   * aborts while it waits, or at once when it is unverified and too many such connects wait.
   */
  run<T>(unverified: boolean, signal: AbortSignal | undefined, connect: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.inFlight++
        if (unverified) this.unverifiedInFlight++
        let p: Promise<T>
        try {
          p = connect()
        } catch (err) {
          p = Promise.reject(err)
        }
        p.then(
          (v) => {
            this.done(unverified)
            resolve(v)
          },
          (err: unknown) => {
            this.done(unverified)
            reject(err)
          },
        )
      }
      if (this.hasSlot(unverified)) {
        start()
        return
      }
      const line = unverified ? this.waitingUnverified : this.waiting
      if (unverified && line.length >= this.maxUnverifiedWaiting) {
        reject(new ConnectNotStartedError(`${line.length} connects to unverified addresses already wait for a slot`))
        return
      }
      const waiter: Waiter = { start }
      line.push(waiter)
      signal?.addEventListener(
        'abort',
        () => {
          const i = line.indexOf(waiter)
          if (i < 0) return
          line.splice(i, 1)
          reject(new ConnectNotStartedError('cancelled while waiting for a connect slot'))
        },
        { once: true },
      )
    })
  }

  private hasSlot(unverified: boolean): boolean {
    return this.inFlight < this.max && (!unverified || this.unverifiedInFlight < this.maxUnverified)
  }

  private done(unverified: boolean): void {
    this.inFlight--
    if (unverified) this.unverifiedInFlight--
    // Vouched-for peers first; then strangers, within their share.
    while (this.inFlight < this.max) {
      const next = this.waiting.shift() ?? (this.unverifiedInFlight < this.maxUnverified ? this.waitingUnverified.shift() : undefined)
      if (next === undefined) return
      next.start()
    }
  }
}
