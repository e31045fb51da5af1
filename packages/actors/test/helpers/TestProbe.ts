import type { ActorRef, ActorSystem } from '../../src/index.js'

/** An actor that records what it receives; `next()` resolves with the next message (no sleeping). */
export class TestProbe {
  readonly ref: ActorRef
  readonly received: { message: unknown; sender: ActorRef | undefined }[] = []
  #cursor = 0
  #waiters: ((value: unknown) => void)[] = []

  constructor(system: ActorSystem, name?: string) {
    this.ref = system.actorOf((message, ctx) => {
      this.received.push({ message, sender: ctx.sender })
      this.#waiters.shift()?.(this.#take())
    }, name)
  }

  #take(): unknown {
    return this.received[this.#cursor++]?.message
  }

  /** The next message not yet taken. */
  next(): Promise<unknown> {
    if (this.#cursor < this.received.length) return Promise.resolve(this.#take())
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** The next `n` messages. */
  async take(n: number): Promise<unknown[]> {
    const out: unknown[] = []
    for (let i = 0; i < n; i++) out.push(await this.next())
    return out
  }
}
