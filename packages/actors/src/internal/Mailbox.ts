import type { ActorRef } from '../ActorRef.js'

/**
 * A FIFO of (message, sender) pairs in two parallel ring buffers: no envelope object is allocated per
 * message. Grows by doubling; optionally bounded (`push` returns false when full).
 */
export class Mailbox {
  #messages: unknown[]
  #senders: (ActorRef | undefined)[]
  #mask: number
  #head = 0
  #size = 0
  readonly #capacity: number

  /** Sender of the message last returned by {@link Mailbox.shift}. */
  lastSender: ActorRef | undefined = undefined

  constructor(capacity = Infinity) {
    this.#capacity = capacity
    this.#messages = new Array<unknown>(16)
    this.#senders = new Array<ActorRef | undefined>(16)
    this.#mask = 15
  }

  get size(): number {
    return this.#size
  }

  /** Appends; false when the mailbox is bounded and full (unless `force`, used for Terminated). */
  push(message: unknown, sender: ActorRef | undefined, force = false): boolean {
    if (this.#size >= this.#capacity && !force) return false
    if (this.#size > this.#mask) this.#grow()
    const i = (this.#head + this.#size) & this.#mask
    this.#messages[i] = message
    this.#senders[i] = sender
    this.#size++
    return true
  }

  /** Removes the oldest message (its sender goes to {@link Mailbox.lastSender}); call only when size > 0. */
  shift(): unknown {
    const i = this.#head
    const message = this.#messages[i]
    this.lastSender = this.#senders[i]
    this.#messages[i] = undefined
    this.#senders[i] = undefined
    this.#head = (i + 1) & this.#mask
    this.#size--
    return message
  }

  #grow(): void {
    const n = this.#mask + 1
    const messages = new Array<unknown>(n * 2)
    const senders = new Array<ActorRef | undefined>(n * 2)
    for (let k = 0; k < n; k++) {
      const i = (this.#head + k) & this.#mask
      messages[k] = this.#messages[i]
      senders[k] = this.#senders[i]
    }
    this.#messages = messages
    this.#senders = senders
    this.#head = 0
    this.#mask = n * 2 - 1
  }
}
