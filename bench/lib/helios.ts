/**
 * The project side: the same traffic as the raw baseline, through @helios/actors remoting.
 *
 * Side B hosts echo actors (one per client, as in Akka.NET's RemotePingPong) and a sink for the
 * one-way stream; side A hosts the benchmark actors ({@link PingPongClients}, one pool per
 * transport), which resolve their echo with `actorSelection(path).resolveOne`, keep a window of
 * "hit" messages in flight and send one more per reply.
 */
import type { HeliosActorContext, HeliosActorRef, HeliosSystem } from './heliosApi.js'
import { withTimeout } from './heliosApi.js'
import {
  HIT,
  LatencyRecorder,
  type LatencyResult,
  type LatencySpec,
  nowMs,
  ONEWAY_FIN,
  type OneWayResult,
  type OneWaySpec,
  oneWayResult,
  payloadOf,
  type PingPongResult,
  type PingPongSpec,
  pingPongResult,
  STALL_MS,
  lossy,
} from './workloads.js'

const RESOLVE_TIMEOUT_MS = 10_000
let serial = 0

// ---- side B -------------------------------------------------------------------------------

/** Creates `count` echo actors named `<prefix>-<i>`; returns their paths. */
export function createEchoActors(system: HeliosSystem, prefix: string, count: number): string[] {
  const paths: string[] = []
  for (let i = 0; i < count; i++) {
    const ref = system.actorOf((message, ctx) => {
      ctx.sender?.tell(message, ctx.self)
    }, `${prefix}-${i}`)
    paths.push(ref.path.toString())
  }
  return paths
}

/** Creates a sink that acks cumulatively every `ackEvery` messages and answers a fin with `[count]`. */
export function createSinkActor(system: HeliosSystem, name: string, ackEvery: number): string {
  let count = 0
  const ref = system.actorOf((message, ctx) => {
    if (message === ONEWAY_FIN) {
      ctx.sender?.tell([count], ctx.self)
      return
    }
    count++
    if (count % ackEvery === 0) ctx.sender?.tell(count, ctx.self)
  }, name)
  return ref.path.toString()
}

// ---- side A -------------------------------------------------------------------------------

/** Told to a benchmark actor after its run: it stops itself. Local only, never crosses the wire. */
const STOP_ACTOR = Symbol('stop-actor')

/**
 * The life of one measured run on side A: `end()` stops all sending at once (at completion or
 * at the cap); replies still in flight are then only counted (`late`), and `quiesce` waits until
 * they stop coming (at most 3 s) before stopping the run's actors. Without it a capped run would
 * keep ping-ponging underneath the next case.
 */
class RunState {
  running = true
  private lateCount = 0
  readonly done: Promise<void>
  readonly end: () => void

  constructor() {
    let resolve!: () => void
    this.done = new Promise<void>((r) => (resolve = r))
    this.end = () => {
      this.running = false
      resolve()
    }
  }

  /** What a benchmark actor does with a message after its run ended. */
  late(message: unknown, ctx: HeliosActorContext): void {
    if (message === STOP_ACTOR) ctx.stop()
    else this.lateCount++
  }

  async quiesce(actors: readonly HeliosActorRef[], quietMs = 100, maxMs = 3_000): Promise<void> {
    const until = nowMs() + maxMs
    let last = -1
    while (this.lateCount !== last && nowMs() < until) {
      last = this.lateCount
      await new Promise((r) => setTimeout(r, quietMs))
    }
    for (const a of actors) a.tell(STOP_ACTOR)
  }
}

async function resolveAll(system: HeliosSystem, paths: readonly string[]): Promise<HeliosActorRef[]> {
  return Promise.all(
    paths.map((p) =>
      withTimeout(system.actorSelection(p).resolveOne({ timeoutMs: RESOLVE_TIMEOUT_MS }), RESOLVE_TIMEOUT_MS + 2_000, `resolveOne(${p})`),
    ),
  )
}

const dropCounters = new WeakMap<HeliosSystem, { count: number }>()

/**
 * Counts 'dropped' events while a case runs (a full outbound queue drops, it never blocks); one
 * listener per system, read as a difference per case.
 */
function countDrops(system: HeliosSystem): { readonly count: number } {
  let counter = dropCounters.get(system)
  if (!counter) {
    const c = { count: 0 }
    counter = c
    dropCounters.set(system, c)
    system.events?.on('dropped', () => {
      c.count++
    })
  }
  const base = counter.count
  const total = counter
  return {
    get count() {
      return total.count - base
    },
  }
}

/**
 * The benchmark actors of one transport: one per client, each paired with its echo actor on B,
 * created once and reused by every N (a run with N clients uses the first N). Reuse keeps the set
 * of actor paths on the association small and fixed, so every case measures the same steady
 * state: creating fresh actors per case would leave the association with ever more paths (and a
 * run after many cases would measure that history, not the case).
 */
export class PingPongClients {
  readonly system: HeliosSystem
  readonly echoes: HeliosActorRef[]
  readonly actors: HeliosActorRef[] = []
  /** The current run's reply handler; replaced per run, unset between runs. */
  onMessage: ((client: number, message: unknown, ctx: HeliosActorContext) => void) | undefined

  private constructor(system: HeliosSystem, echoes: HeliosActorRef[]) {
    this.system = system
    this.echoes = echoes
    const id = ++serial
    for (let c = 0; c < echoes.length; c++) {
      const client = c
      this.actors.push(
        system.actorOf((message, ctx) => {
          const handler = this.onMessage
          if (handler) handler(client, message, ctx)
        }, `pingpong-${id}-${c}`),
      )
    }
  }

  /** Resolves the echo actors at `echoPaths` and creates one benchmark actor per echo. */
  static async create(system: HeliosSystem, echoPaths: readonly string[]): Promise<PingPongClients> {
    return new PingPongClients(system, await resolveAll(system, echoPaths))
  }

  get size(): number {
    return this.echoes.length
  }
}

/** RemotePingPong for one N through the actor systems, with the first N of `clients`. */
export async function heliosPingPong(clients: PingPongClients, spec: PingPongSpec): Promise<PingPongResult & { dropped: number }> {
  const n = spec.clients
  if (n > clients.size) throw new Error(`${n} clients asked, ${clients.size} created`)
  const { echoes, actors, system } = clients
  const target = spec.repliesPerClient
  const goal = n * target
  const sent = new Int32Array(n)
  const received = new Int32Array(n)
  let total = 0
  let lost = 0
  const run = new RunState()
  const done = run.done
  const finish = run.end
  const drops = countDrops(system)

  clients.onMessage = (client, message, ctx) => {
    if (!run.running) return run.late(message, ctx)
    if (message !== HIT || client >= n || received[client]! >= target) return
    received[client]!++
    total++
    if (sent[client]! < target && sent[client]! - received[client]! < spec.window) {
      sent[client]!++
      echoes[client]!.tell(HIT, ctx.self)
    }
    if (total === goal) finish()
  }
  const refill = (c: number): void => {
    while (sent[c]! < target && sent[c]! - received[c]! < spec.window) {
      sent[c]!++
      echoes[c]!.tell(HIT, actors[c]!)
    }
  }
  const start = nowMs()
  for (let c = 0; c < n; c++) refill(c)
  let seen = -1
  const stall = setInterval(() => {
    // Only udp and dtls lose messages, or a full outbound queue that dropped some ('dropped' events);
    // otherwise over tcp and tls a pause is just a pause.
    if (!lossy(spec.transport) && drops.count === 0) return
    if (total !== seen) {
      seen = total
      return
    }
    for (let c = 0; c < n; c++) {
      lost += sent[c]! - received[c]!
      sent[c] = received[c]!
      refill(c)
    }
  }, STALL_MS)
  const cap = setTimeout(finish, spec.maxMs)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
  }
  const elapsed = nowMs() - start
  // A capped run still has replies in flight: let them land (no new sends) before the next case
  // uses the same actors on the same association.
  await run.quiesce([])
  clients.onMessage = undefined
  return { ...pingPongResult(spec, total, elapsed, lost), dropped: drops.count }
}

/** Round trips with one in flight from an actor on A to the echo at `echoPath`. */
export async function heliosLatency(system: HeliosSystem, echoPath: string, spec: LatencySpec): Promise<LatencyResult> {
  const [echo] = await resolveAll(system, [echoPath])
  const payload = payloadOf(spec.payloadBytes)
  const recorder = new LatencyRecorder()
  const drops = countDrops(system)
  const total = spec.warmup + spec.count
  let replies = 0
  let sentAt = 0
  const run = new RunState()
  const done = run.done
  const finish = run.end
  // `[seq, payload]`, as in the raw baseline: a late udp reply is ignored, not mis-timed.
  let seq = 0
  const self = system.actorOf((message, ctx) => {
    if (!run.running) return run.late(message, ctx)
    const now = nowMs()
    if (!Array.isArray(message) || message[0] !== seq) return
    replies++
    if (replies > spec.warmup) recorder.recordNanos(Math.max(1, Math.round((now - sentAt) * 1e6)))
    if (replies >= total) return finish()
    seq++
    sentAt = nowMs()
    echo!.tell([seq, payload], ctx.self)
  }, `latency-${++serial}`)
  sentAt = nowMs()
  echo!.tell([seq, payload], self)
  let seen = -1
  const stall = setInterval(() => {
    // Only udp and dtls lose messages, or a full outbound queue that dropped some ('dropped' events);
    // otherwise over tcp and tls a pause is just a pause.
    if (!lossy(spec.transport) && drops.count === 0) return
    if (replies !== seen) {
      seen = replies
      return
    }
    recorder.lost++
    seq++
    sentAt = nowMs()
    echo!.tell([seq, payload], self)
  }, STALL_MS)
  const cap = setTimeout(finish, spec.maxMs)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
  }
  await run.quiesce([self])
  return recorder.result()
}

/** A one-way stream from an actor on A to the sink at `sinkPath`, with cumulative acks. */
export async function heliosOneWay(system: HeliosSystem, sinkPath: string, spec: OneWaySpec): Promise<OneWayResult & { dropped: number }> {
  const [sink] = await resolveAll(system, [sinkPath])
  const payload = payloadOf(spec.payloadBytes)
  let sent = 0
  let acked = 0
  let lostOffset = 0
  let finSent = false
  let stopSending = false
  let received = -1
  let progress = 0
  const run = new RunState()
  const done = run.done
  const finish = run.end
  const drops = countDrops(system)
  let self!: HeliosActorRef
  const pump = (): void => {
    if (!run.running) return
    const limit = stopSending ? sent : spec.messages
    while (sent < limit && sent - acked < spec.window) {
      sink!.tell(payload, self)
      sent++
    }
    if (sent >= limit && !finSent) {
      finSent = true
      sink!.tell(ONEWAY_FIN, self)
    }
  }
  self = system.actorOf((message, ctx) => {
    if (!run.running) return run.late(message, ctx)
    progress++
    if (typeof message === 'number') {
      acked = Math.max(acked, message + lostOffset)
      pump()
    } else if (Array.isArray(message)) {
      received = message[0] as number
      finish()
    }
  }, `oneway-${++serial}`)
  const start = nowMs()
  pump()
  let seen = -1
  const stall = setInterval(() => {
    // Only udp and dtls lose messages, or a full outbound queue that dropped some ('dropped' events);
    // otherwise over tcp and tls a pause is just a pause.
    if (!lossy(spec.transport) && drops.count === 0) return
    if (progress !== seen) {
      seen = progress
      return
    }
    if (finSent) sink!.tell(ONEWAY_FIN, self)
    else {
      lostOffset += sent - acked
      acked = sent
      pump()
    }
  }, STALL_MS)
  const cap = setTimeout(() => {
    stopSending = true
    pump()
  }, spec.maxMs)
  const hardCap = setTimeout(finish, spec.maxMs + 5_000)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
    clearTimeout(hardCap)
  }
  const elapsed = nowMs() - start
  await run.quiesce([self])
  return { ...oneWayResult(spec, sent, Math.max(0, received), elapsed), dropped: drops.count }
}
