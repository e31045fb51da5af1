/**
 * One phase of the soak (bench/soak.bench.ts): side A (this process) ping-pongs at full rate with
 * the echo actors of side B (a child process, lib/soakNode.ts) over one association, while (with
 * churn) the ping-pong actors of A are replaced by new ones at a steady rate: each new actor has
 * a path never seen before, which crosses the association as the sender of its pings and the
 * recipient of its replies. Every interval the phase records the round trips, the share of actor
 * paths written as compression indexes each way, both processes' RSS and the load average.
 */
import { loadavg } from 'node:os'
import { createRemoteSystem, type HeliosActorRef, type HeliosActorSystemStatic, type HeliosSystem, withTimeout } from './heliosApi.js'
import { memoryReport } from './machine.js'
import type { Progress } from './progress.js'
import { type AssociationSnapshot, associationSnapshot, type SoakNode } from './soakProtocol.js'
import { HIT, lossy, STALL_MS, type Transport } from './workloads.js'

/** What one phase runs. */
export interface PhaseSpec {
  transport: Transport
  /** 'churn': actors created and stopped all along; 'baseline': the same ping-pong, no churn. */
  kind: 'churn' | 'baseline'
  durationMs: number
  intervalMs: number
  /** Unmeasured ping-pong before the first interval (no churn either). */
  warmupMs: number
  /** Ping-pong actors on A at any time (one echo actor each on B). */
  clients: number
  /** Pings in flight per actor. */
  window: number
  /** Distinct ping-pong actors (paths) created over the measured part of a churn phase. */
  paths: number
}

/** One interval of a phase. */
export interface IntervalRow {
  /** 1-based. */
  index: number
  /** Seconds since the measured part began, at the interval's end. */
  endS: number
  roundTrips: number
  /** Round trips per second over the interval. */
  perSec: number
  /** Ping-pong actors (distinct paths) created so far, the first `clients` included. */
  paths: number
  /** Of the actor paths A wrote towards B in this interval, the share written as an index (null: not reported by this commit). */
  compressedAB: number | null
  /** The same, B towards A. */
  compressedBA: number | null
  /** Outbound compression generation of A and B at the interval's end (null: not reported). */
  generationA: number | null
  generationB: number | null
  /** Estimated bytes of compression tables of A's and B's association (null: not reported). */
  compressionKbA: number | null
  compressionKbB: number | null
  rssMbA: number
  rssMbB: number
  /** Messages counted lost in the interval (udp: what was in flight when replies stalled for 200 ms). */
  lost: number
  /** 1-minute load average at the interval's end. */
  load1: number
}

/** The result of one phase. */
export interface PhaseResult {
  transport: Transport
  kind: 'churn' | 'baseline'
  durationS: number
  intervalS: number
  clients: number
  window: number
  /** Distinct ping-pong actor paths created (the first `clients` included). */
  paths: number
  intervals: IntervalRow[]
  roundTrips: number
  perSec: number
  decodeErrorsA: number
  decodeErrorsB: number
  /** 'dropped' events on A, and the association's dropped counter on B. */
  droppedA: number
  droppedB: number
  lost: number
  /** Replies delivered to dead letters on A (a retired actor stopped with replies still in flight, udp). */
  deadLettersA: number
  load: { start: number[]; end: number[] }
}

const START = Symbol('start')
const STOP = Symbol('stop')
/** A retired actor is stopped after this long even if replies are still missing (udp). */
const RETIRE_MS = 2_000

class Client {
  ref!: HeliosActorRef
  active = true
  outstanding = 0
  lastReplyAt = Date.now()
  retiredAt = 0
  constructor(readonly echo: HeliosActorRef) {}
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits

function established(list: AssociationSnapshot[]): AssociationSnapshot | undefined {
  return list.find((a) => a.state === 'established') ?? list[list.length - 1]
}

/** Runs one phase on fresh actor systems (a fresh association) and returns what it measured. */
export async function runPhase(
  ActorSystem: HeliosActorSystemStatic,
  node: SoakNode,
  spec: PhaseSpec,
  progress: Progress,
): Promise<PhaseResult> {
  const loadStart = loadavg().map((x) => round(x, 2))
  await node.request({ op: 'start', transport: spec.transport })
  const { paths: echoPaths } = await node.request<{ paths: string[] }>({ op: 'echo', prefix: 'echo', count: spec.clients })
  const system: HeliosSystem = await createRemoteSystem(ActorSystem, 'A', spec.transport, undefined)
  let droppedA = 0
  let deadLettersA = 0
  system.events?.on('dropped', () => {
    droppedA++
  })
  system.events?.on('deadLetter', () => {
    deadLettersA++
  })
  const echoes = await Promise.all(
    echoPaths.map((p) => withTimeout(system.actorSelection(p).resolveOne({ timeoutMs: 10_000 }), 12_000, `resolveOne(${p})`)),
  )

  let running = true
  let replies = 0
  let lost = 0
  let serial = 0
  const slots: Client[] = []
  const retiring = new Set<Client>()

  const refill = (c: Client): void => {
    while (running && c.active && c.outstanding < spec.window) {
      c.outstanding++
      c.echo.tell(HIT, c.ref)
    }
  }
  const spawn = (echo: HeliosActorRef): Client => {
    const c = new Client(echo)
    c.ref = system.actorOf((message, ctx) => {
      if (message === HIT) {
        replies++
        c.lastReplyAt = Date.now()
        if (c.outstanding > 0) c.outstanding--
        if (c.active && running) {
          c.outstanding++
          c.echo.tell(HIT, ctx.self)
        } else if (c.outstanding === 0) {
          retiring.delete(c)
          ctx.stop()
        }
      } else if (message === START) {
        refill(c)
      } else if (message === STOP) {
        retiring.delete(c)
        ctx.stop()
      }
    }, `pinger-${serial++}`)
    c.ref.tell(START)
    return c
  }
  /** Retires the actor of slot `i` (it stops once its replies are in) and starts a new one in its place. */
  const replace = (i: number): void => {
    const old = slots[i] as Client
    old.active = false
    old.retiredAt = Date.now()
    if (old.outstanding === 0) old.ref.tell(STOP)
    else retiring.add(old)
    slots[i] = spawn(old.echo)
  }

  for (const echo of echoes) slots.push(spawn(echo))
  // Lossy transports: replies that stall for STALL_MS are counted lost and the window is sent again;
  // retired actors still missing replies after RETIRE_MS are stopped.
  const housekeeping = setInterval(() => {
    const now = Date.now()
    if (lossy(spec.transport)) {
      for (const c of slots) {
        if (now - c.lastReplyAt > STALL_MS && c.outstanding > 0) {
          lost += c.outstanding
          c.outstanding = 0
          c.lastReplyAt = now
          refill(c)
        }
      }
    }
    for (const c of retiring) {
      if (now - c.retiredAt > RETIRE_MS) {
        retiring.delete(c)
        lost += c.outstanding
        c.ref.tell(STOP)
      }
    }
  }, 100)

  await sleep(spec.warmupMs)

  // The measured part.
  const started = Date.now()
  let churnTimer: NodeJS.Timeout | undefined
  if (spec.kind === 'churn') {
    const toCreate = Math.max(0, spec.paths - spec.clients)
    let created = 0
    churnTimer = setInterval(() => {
      const due = Math.min(toCreate, Math.floor(((Date.now() - started) / spec.durationMs) * toCreate))
      while (created < due) {
        replace(created % spec.clients)
        created++
      }
    }, 20)
  }
  const intervals: IntervalRow[] = []
  const count = Math.max(1, Math.round(spec.durationMs / spec.intervalMs))
  let lastReplies = replies
  let lastLost = lost
  let lastA: AssociationSnapshot | undefined = established(associationSnapshot(system))
  let lastB: AssociationSnapshot | undefined = established((await node.stats()).associations)
  let lastAt = Date.now()
  for (let i = 1; i <= count; i++) {
    const wait = started + i * spec.intervalMs - Date.now()
    if (wait > 0) await sleep(wait)
    const now = Date.now()
    const r = replies
    const l = lost
    const a = established(associationSnapshot(system))
    const b = await node.stats()
    const bAssoc = established(b.associations)
    const share = (cur: AssociationSnapshot | undefined, prev: AssociationSnapshot | undefined): number | null => {
      const c = cur?.compression
      const p = prev?.compression
      if (c === undefined) return null
      const written = c.actorRefsWritten - (p?.actorRefsWritten ?? 0)
      return written > 0 ? round((c.actorRefsCompressed - (p?.actorRefsCompressed ?? 0)) / written, 3) : null
    }
    const row: IntervalRow = {
      index: i,
      endS: round((now - started) / 1000, 1),
      roundTrips: r - lastReplies,
      perSec: Math.round((r - lastReplies) / ((now - lastAt) / 1000)),
      paths: serial,
      compressedAB: share(a, lastA),
      compressedBA: share(bAssoc, lastB),
      generationA: a?.compression?.outboundGeneration ?? null,
      generationB: bAssoc?.compression?.outboundGeneration ?? null,
      compressionKbA: a?.compression === undefined ? null : round(a.compression.bytes / 1024, 1),
      compressionKbB: bAssoc?.compression === undefined ? null : round(bAssoc.compression.bytes / 1024, 1),
      rssMbA: memoryReport().rssMb,
      rssMbB: b.memory.rssMb,
      lost: l - lastLost,
      load1: round(loadavg()[0] ?? 0, 2),
    }
    intervals.push(row)
    progress.note(
      `  ${spec.transport} ${spec.kind} ${row.endS.toFixed(0).padStart(4)} s: ${row.perSec.toLocaleString('en-US').padStart(9)} round trips/s, ` +
        `${row.paths.toLocaleString('en-US')} paths, compressed A->B ${pct(row.compressedAB)} B->A ${pct(row.compressedBA)}, ` +
        `RSS A ${row.rssMbA} MB B ${row.rssMbB} MB, load ${row.load1}`,
    )
    lastReplies = r
    lastLost = l
    lastA = a
    lastB = bAssoc
    lastAt = now
  }
  const elapsed = Date.now() - started
  running = false
  if (churnTimer !== undefined) clearInterval(churnTimer)
  await sleep(500)
  clearInterval(housekeeping)
  const endA = associationSnapshot(system)
  const endB = (await node.stats()).associations
  await system.terminate()
  await node.request({ op: 'stop' })
  const sum = (list: AssociationSnapshot[], f: (a: AssociationSnapshot) => number): number => list.reduce((s, a) => s + f(a), 0)
  const measured = intervals.reduce((s, row) => s + row.roundTrips, 0)
  return {
    transport: spec.transport,
    kind: spec.kind,
    durationS: round(elapsed / 1000, 1),
    intervalS: spec.intervalMs / 1000,
    clients: spec.clients,
    window: spec.window,
    paths: serial,
    intervals,
    roundTrips: measured,
    perSec: Math.round(measured / (elapsed / 1000)),
    decodeErrorsA: sum(endA, (a) => a.decodeErrors),
    decodeErrorsB: sum(endB, (a) => a.decodeErrors),
    droppedA,
    droppedB: sum(endB, (a) => a.dropped),
    lost,
    deadLettersA,
    load: { start: loadStart, end: loadavg().map((x) => round(x, 2)) },
  }
}

/** A share as a percentage, or '-'. */
export function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(1)}%`
}
