import { inspect } from 'node:util'

/** A short one-line rendering of a message for a log line (bounded whatever the value). */
export function describeValue(value: unknown): string {
  const s = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY, maxArrayLength: 5, maxStringLength: 80, compact: true })
  return s.length > 200 ? `${s.slice(0, 197)}...` : s
}
