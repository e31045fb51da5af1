import type { ActorRef } from '../ActorRef.js'
import type { RemoteActorRef } from './RemoteActorRef.js'

/** A user message waiting for its association's user lane. */
export interface QueuedUserMessage {
  readonly recipient: RemoteActorRef
  readonly message: unknown
  readonly sender: ActorRef | undefined
}

/**
 * The bounded outbound queue of one association: user messages wait here while the handshake is
 * in progress, the lane is reconnecting or not writable. Full: the caller drops (and reports) the
 * message; it never grows beyond `capacity`, and it does not pin a large array once drained.
 */
export class UserMessageQueue {
  private items: (QueuedUserMessage | undefined)[] = []
  private head = 0

  constructor(readonly capacity: number) {}

  /** Messages waiting. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Adds a message; false (nothing added) when the queue is full. */
  offer(m: QueuedUserMessage): boolean {
    if (this.size >= this.capacity) return false
    this.items.push(m)
    return true
  }

  /** Hands messages to `write` in order while `canWrite()` holds. */
  drain(canWrite: () => boolean, write: (m: QueuedUserMessage) => void): void {
    const q = this.items
    while (this.head < q.length && canWrite()) {
      const m = q[this.head] as QueuedUserMessage
      q[this.head++] = undefined
      write(m)
    }
    if (this.head === q.length) this.clear()
    else if (this.head > 4096) {
      this.items = q.slice(this.head)
      this.head = 0
    }
  }

  /** Empties the queue and returns what waited, in order. */
  takeAll(): QueuedUserMessage[] {
    const all = this.items.slice(this.head) as QueuedUserMessage[]
    this.clear()
    return all
  }

  private clear(): void {
    this.items = []
    this.head = 0
  }
}
