import { ActorRef } from '../ActorRef.js'

/** Values looked at, at most, to estimate one message. */
const VISITS = 256

/**
 * A cheap estimate of the bytes a message holds (what queuing it keeps alive), for the outbound
 * queue's byte bound: exact for binary data (`Uint8Array`, `ArrayBuffer`, any typed array), strings
 * by their length, about right for numbers, dates, actor refs (their path) and the structure around them. At most {@link VISITS}
 * values are looked at: the rest of a large collection is counted at the average of what was seen.
 */
export function estimateSize(message: unknown): number {
  let visits = 0
  const size = (v: unknown): number => {
    visits++
    switch (typeof v) {
      case 'string':
        return 5 + v.length
      case 'number':
        return 9
      case 'bigint':
        return 9 + (v < 0n ? -v : v).toString(16).length / 2
      case 'boolean':
      case 'undefined':
        return 1
      case 'object':
        break
      default:
        return 16
    }
    if (v === null) return 1
    if (v instanceof ActorRef) return 5 + v.path.toString().length // its path is what travels
    if (ArrayBuffer.isView(v)) return 5 + v.byteLength
    if (v instanceof ArrayBuffer) return 5 + v.byteLength
    if (v instanceof Date) return 9
    if (Array.isArray(v)) return 5 + many(v.length, v)
    if (v instanceof Map) return 5 + many(v.size * 2, flatten(v))
    if (v instanceof Set) return 5 + many(v.size, v)
    const keys = Object.keys(v)
    let total = 5
    for (const k of keys) total += 5 + k.length
    return total + many(keys.length, valuesOf(v as Record<string, unknown>, keys))
  }
  /** The size of `n` values taken from `items`, looking at as many as the visits left allow. */
  const many = (n: number, items: Iterable<unknown>): number => {
    let seen = 0
    let total = 0
    for (const item of items) {
      if (visits >= VISITS) break
      total += size(item)
      seen++
    }
    if (seen === n) return total
    return total + (n - seen) * (seen > 0 ? total / seen : 16)
  }
  try {
    return Math.ceil(size(message))
  } catch {
    // A getter that throws, a revoked proxy: the message fails when it is encoded; queuing it
    // must not throw here.
    return UNREADABLE
  }
}

/** What a message that cannot be looked at is counted as. */
const UNREADABLE = 64

function* flatten(m: Map<unknown, unknown>): Iterable<unknown> {
  for (const [k, v] of m) {
    yield k
    yield v
  }
}

function* valuesOf(o: Record<string, unknown>, keys: string[]): Iterable<unknown> {
  for (const k of keys) yield o[k]
}
