/** Why a connect waiting for a slot did not start. */
export class ConnectNotStartedError extends Error {
  readonly code = 'ERR_CONNECT_NOT_STARTED'
}

interface Waiter {
  readonly start: () => void
}

/**
 * Whose word a connect is on: `verified`, an address the application sends to or a handshake
 * confirmed; `claimed`, an address a peer claimed in a handshake over a connection it opened to
 * this node (the dial-back that confirms it); `sponsored`, an address read from another peer's
 * frames (a reply to a sender path).
 */
export type ConnectKind = 'verified' | 'claimed' | 'sponsored'

/**
 * Bounds the outbound connects of a node that are in flight at once (TCP connect, and the TLS
 * handshake with it). Connects to addresses nobody vouched for get a small share of the slots and
 * a bounded waiting line each, claimed ones apart from sponsored ones, so that a flood of envelopes
 * naming strangers can neither exhaust the node's descriptors nor delay the connects of the peers
 * it really talks to (those always go first), nor the dial-back of a node that just connected to
 * it (claimed connects go before sponsored ones).
 */
export class ConnectLimiter {
  private inFlight = 0
  private readonly inFlightOf: Record<ConnectKind, number> = { verified: 0, claimed: 0, sponsored: 0 }
  private readonly lines: Record<ConnectKind, Waiter[]> = { verified: [], claimed: [], sponsored: [] }

  /**
   * @param max connects in flight at most.
   * @param maxUnverified of which at most this many claimed, and as many sponsored.
   * @param maxUnverifiedWaiting claimed (and as many sponsored) connects waiting for a slot at most; beyond, they fail at once.
   */
  constructor(
    readonly max: number,
    readonly maxUnverified: number,
    readonly maxUnverifiedWaiting: number,
  ) {}

  /** Connects in flight now (every kind). */
  get active(): number {
    return this.inFlight
  }

  /** Connects waiting for a slot now (every kind). */
  get queued(): number {
    return this.lines.verified.length + this.lines.claimed.length + this.lines.sponsored.length
  }

  /**
   * Runs `connect` once a slot is free. Rejects with {@link ConnectNotStartedError} when `signal`
   * aborts while it waits, or at once when it is not verified and too many such connects wait.
   */
  run<T>(kind: ConnectKind, signal: AbortSignal | undefined, connect: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.inFlight++
        this.inFlightOf[kind]++
        let p: Promise<T>
        try {
          p = connect()
        } catch (err) {
          p = Promise.reject(err)
        }
        p.then(
          (v) => {
            this.done(kind)
            resolve(v)
          },
          (err: unknown) => {
            this.done(kind)
            reject(err)
          },
        )
      }
      if (this.hasSlot(kind)) {
        start()
        return
      }
      const line = this.lines[kind]
      if (kind !== 'verified' && line.length >= this.maxUnverifiedWaiting) {
        reject(new ConnectNotStartedError(`${line.length} connects to ${kind} (unverified) addresses already wait for a slot`))
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

  private hasSlot(kind: ConnectKind): boolean {
    return this.inFlight < this.max && (kind === 'verified' || this.inFlightOf[kind] < this.maxUnverified)
  }

  private done(kind: ConnectKind): void {
    this.inFlight--
    this.inFlightOf[kind]--
    // Vouched-for peers first; then claimants, then sponsored strangers, each within its share.
    while (this.inFlight < this.max) {
      const next =
        this.lines.verified.shift() ??
        (this.inFlightOf.claimed < this.maxUnverified ? this.lines.claimed.shift() : undefined) ??
        (this.inFlightOf.sponsored < this.maxUnverified ? this.lines.sponsored.shift() : undefined)
      if (next === undefined) return
      next.start()
    }
  }
}
