import type { ActorRef } from '../ActorRef.js'
import { estimateSize } from './estimateSize.js'
import type { RemoteActorRef } from './RemoteActorRef.js'

/** A user message waiting for its association's user lane. */
export interface QueuedUserMessage {
  readonly recipient: RemoteActorRef
  readonly message: unknown
  readonly sender: ActorRef | undefined
}

/** Where queued bytes are accounted besides the queue (the node's memory budget). */
export interface OutboundMemory {
  /** Room for `bytes` more: false when the node has none. */
  acquireOutbound(bytes: number): boolean
  releaseOutbound(bytes: number): void
}

interface Entry extends QueuedUserMessage {
  /** Estimated bytes (see {@link estimateSize}). */
  readonly bytes: number
}

/**
 * The bounded outbound queue of one association: user messages wait here while the handshake is
 * in progress, the lane is reconnecting or not writable. It holds at most `capacity` messages and
 * about `capacityBytes` bytes (estimated with {@link estimateSize}), within the node's memory
 * budget; beyond, the caller drops (and reports) the message. It does not pin a large array once
 * drained.
 */
export class UserMessageQueue {
  private items: (Entry | undefined)[] = []
  private head = 0
  private queuedBytes = 0

  constructor(
    readonly capacity: number,
    readonly capacityBytes: number,
    private readonly memory: OutboundMemory,
  ) {}

  /** Messages waiting. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Estimated bytes waiting. */
  get bytes(): number {
    return this.queuedBytes
  }

  /** Adds a message; returns why not (nothing added) when a bound would be exceeded. */
  offer(m: QueuedUserMessage): string | undefined {
    if (this.size >= this.capacity) return `outbound queue full (outboundQueueSize ${this.capacity})`
    const bytes = estimateSize(m.message)
    if (this.queuedBytes + bytes > this.capacityBytes) {
      return `outbound queue full (${this.queuedBytes} bytes queued, outboundQueueBytes ${this.capacityBytes})`
    }
    if (!this.memory.acquireOutbound(bytes)) return 'the node memory budget (memoryBudgetBytes) is spent'
    this.queuedBytes += bytes
    this.items.push({ recipient: m.recipient, message: m.message, sender: m.sender, bytes })
    return undefined
  }

  /** Hands messages to `write` in order while `canWrite()` holds. */
  drain(canWrite: () => boolean, write: (m: QueuedUserMessage) => void): void {
    const q = this.items
    while (this.head < q.length && canWrite()) {
      const m = q[this.head] as Entry
      q[this.head++] = undefined
      this.release(m)
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
    const all = this.items.slice(this.head) as Entry[]
    for (const m of all) this.release(m)
    this.clear()
    return all
  }

  private release(m: Entry): void {
    this.queuedBytes -= m.bytes
    this.memory.releaseOutbound(m.bytes)
  }

  private clear(): void {
    this.items = []
    this.head = 0
  }
}
