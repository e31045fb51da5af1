/**
 * The traffic patterns shared by the raw baseline and the project side, and their results.
 * Both sides drive exactly the same pattern so that the ratio compares implementations, not
 * workloads.
 */
import { build } from 'hdr-histogram-js'

export type Transport = 'tcp' | 'tls' | 'udp' | 'dtls'
export const TRANSPORTS: readonly Transport[] = ['tcp', 'tls', 'udp', 'dtls']

/** Transports that lose datagrams (a stall counts what was in flight as lost). */
export function lossy(t: Transport): boolean {
  return t === 'udp' || t === 'dtls'
}

/** Transports with certificates (tls material needed). */
export function secured(t: Transport): boolean {
  return t === 'tls' || t === 'dtls'
}

/** The message of RemotePingPong (Akka.NET sends the string "hit" both ways). */
export const HIT = 'hit'
/** Messages each benchmark client keeps in flight. */
export const DEFAULT_WINDOW = 50

/** If no reply arrives for this long, a lossy (udp) run counts the in-flight messages as lost. */
export const STALL_MS = 200

/** RemotePingPong for one N. */
export interface PingPongSpec {
  transport: Transport
  clients: number
  repliesPerClient: number
  window: number
  /** Hard cap on the measured time; the rate is then computed over the replies received. */
  maxMs: number
}

export interface PingPongResult {
  clients: number
  repliesPerClient: number
  /** Messages that crossed the wire both ways: 2 x replies received (N x replies x 2 when complete). */
  totalMessages: number
  elapsedMs: number
  msgsPerSec: number
  /** Messages counted lost after a stall (udp only). */
  lost: number
  /** True when maxMs ended the run before every client had its replies. */
  capped: boolean
}

/** Round trip with one request in flight. */
export interface LatencySpec {
  transport: Transport
  payloadBytes: number
  warmup: number
  count: number
  maxMs: number
}

/** Percentiles in microseconds. */
export interface LatencyResult {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
  lost: number
}

/** One-way stream with a cumulative ack every `ackEvery` messages and at most `window` unacked. */
export interface OneWaySpec {
  transport: Transport
  payloadBytes: number
  messages: number
  window: number
  ackEvery: number
  maxMs: number
}

export interface OneWayResult {
  payloadBytes: number
  sent: number
  received: number
  elapsedMs: number
  msgsPerSec: number
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerSec: number
  lost: number
  capped: boolean
}

/** Control messages of the one-way stream, in both raw and project form. */
export const ONEWAY_FIN = 'fin'

/** A payload string of exactly `bytes` ASCII bytes. */
export function payloadOf(bytes: number): string {
  return 'x'.repeat(bytes)
}

/** Window size for the one-way stream: at most 2 MiB (and 2,000 messages) unacknowledged. */
export function oneWayWindow(payloadBytes: number): number {
  return Math.max(16, Math.min(2000, Math.floor((2 * 1024 * 1024) / payloadBytes)))
}

/** Collects round-trip times (in nanoseconds) and reports microsecond percentiles. */
export class LatencyRecorder {
  private readonly histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000_000,
    numberOfSignificantValueDigits: 3,
  })
  lost = 0

  recordNanos(ns: number): void {
    this.histogram.recordValue(ns)
  }

  get count(): number {
    return this.histogram.totalCount
  }

  result(): LatencyResult {
    const h = this.histogram
    const us = (ns: number): number => Math.round(ns / 10) / 100
    return {
      count: h.totalCount,
      p50: us(h.getValueAtPercentile(50)),
      p90: us(h.getValueAtPercentile(90)),
      p99: us(h.getValueAtPercentile(99)),
      p999: us(h.getValueAtPercentile(99.9)),
      max: us(h.maxValue),
      mean: us(h.mean),
      lost: this.lost,
    }
  }
}

/** Builds a ping-pong result from what was counted. */
export function pingPongResult(spec: PingPongSpec, replies: number, elapsedMs: number, lost: number): PingPongResult {
  const totalMessages = replies * 2
  return {
    clients: spec.clients,
    repliesPerClient: spec.repliesPerClient,
    totalMessages,
    elapsedMs: Math.round(elapsedMs * 10) / 10,
    msgsPerSec: elapsedMs > 0 ? Math.round((totalMessages / elapsedMs) * 1000) : 0,
    lost,
    capped: replies < spec.clients * spec.repliesPerClient,
  }
}

/** Builds a one-way result from what was counted. */
export function oneWayResult(spec: OneWaySpec, sent: number, received: number, elapsedMs: number): OneWayResult {
  const perSec = elapsedMs > 0 ? (received / elapsedMs) * 1000 : 0
  return {
    payloadBytes: spec.payloadBytes,
    sent,
    received,
    elapsedMs: Math.round(elapsedMs * 10) / 10,
    msgsPerSec: Math.round(perSec),
    mbPerSec: Math.round(((perSec * spec.payloadBytes) / 1e6) * 100) / 100,
    lost: Math.max(0, sent - received),
    capped: sent < spec.messages,
  }
}

/** Milliseconds from a monotonic clock. */
export function nowMs(): number {
  return performance.now()
}
