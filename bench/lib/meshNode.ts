/**
 * One process of the mesh benchmark (mesh.bench.ts), in a network namespace of its own when run
 * as root: one actor system (a node of the mesh, or the observer of a star run) or several (the
 * peers of a star run, packed into a few processes, each system on a port of its own). Each
 * system has
 *
 * - /user/echo: answers every message with itself;
 * - /user/sink: counts numbered messages `{ from, seq }` per sender (unique, duplicates, order);
 * - /user/watcher: watches the refs it is told to, reports every Terminated to the parent at once;
 *
 * and the process answers the parent's commands over IPC (mesh, watchAll, stats, traffic,
 * sinkReport, events). The log is silent (`logger: 'silent'`), but every system event is counted
 * here, with its time and a few details, and reported on demand. The process exits when the
 * parent goes away.
 *
 *   node --import tsx lib/meshNode.ts '<json config>'
 */
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks'
import { type ActorRef, ActorSystem, type RemoteOptions, type SystemEventName, Terminated } from '@helios/actors'
import { errorText, sendToParent, serveParent } from './childNode.js'

export interface MeshNodeConfig {
  /** Index of this process among the processes of the run (senders are known by it). */
  index: number
  transport: 'tcp' | 'tls' | 'udp'
  host: string
  /** One actor system per entry. */
  systems: { name: string; port: number }[]
  tls?: { key: string; cert: string; ca: string }
  /** Remote options beyond transport, host, port and tls (heartbeatIntervalMs, failureDetector, ...). */
  remote: Record<string, unknown>
  /** Sample the event loop's delay (perf_hooks.monitorEventLoopDelay, a 20 ms timer: costs some CPU). */
  eventLoopDelay: boolean
}

/** What a mesh process sends to the parent. */
export type MeshNodeMessage =
  | { type: 'ready'; address: string; uid: string; addresses: string[]; pid: number; at: number }
  | { type: 'progress'; answered: number; failed: number; total: number }
  | { type: 'terminated'; path: string; addressTerminated: boolean; at: number }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }

/** One pair of the mesh: a system of this process reaching /user/echo at a target address. */
export interface PairResult {
  /** Index of the system in this process. */
  s: number
  /** Index of the target in the command's list. */
  t: number
  ok: boolean
  /** resolveOne + ask attempts made (1 = no retry). */
  attempts: number
  /** Date.now() when the pair answered (ok). */
  at?: number
  /** The last failure (phase: error). */
  error?: string
}

export interface NodeStats {
  pid: number
  at: number
  associations: number
  byState: Record<string, number>
  framesSent: number
  framesReceived: number
  bytesSent: number
  bytesReceived: number
  messagesSent: number
  messagesReceived: number
  dropped: number
  lostInTransit: number
  systemMessagesSent: number
  systemMessagesResent: number
  unackedSystemMessages: number
  reconnects: number
  /** Events counted since start, by name; `droppedMessages`: messages the 'dropped' events stand for. */
  events: Record<string, number>
  deadLetters: number
  heapUsedMb: number
  /** Garbage collections since start (count, and their total duration in ms). */
  gcCount: number
  gcMs: number
  /** Event-loop delay since the last stats with `resetEld` (ms beyond the 20 ms sampling interval), when sampled. */
  eld?: { mean: number; p50: number; p99: number; max: number; count: number }
}

/** An event as kept for the report: what, when, about whom, why. */
export interface EventRecord {
  at: number
  name: string
  remote: string
  detail: string
  count: number
}

export interface TrafficResult {
  /** Messages told to each target's sink (same order as the targets). */
  sent: number[]
  startedAt: number
  endedAt: number
  /** Round trips of the sampled asks, ms. */
  latencies: number[]
  askFailures: number
  askErrors: Record<string, number>
  /** How late the sender's ticks ran (ms): p50, max. */
  lateP50Ms: number
  lateMaxMs: number
}

type Command =
  | {
      cmd: 'mesh'
      targets: string[]
      deadlineAt: number
      attemptTimeoutMs: number
      retryDelayMs: number
      /** Only these pairs ([system, target] indices): a second pass over what did not answer. */
      only?: [number, number][]
    }
  | { cmd: 'associationsWith'; remotes: string[] }
  | { cmd: 'watchAll'; timeoutMs: number }
  | { cmd: 'stats'; resetEld?: boolean }
  | { cmd: 'traffic'; ratePerPeer: number; durationMs: number; askIntervalMs: number; askTimeoutMs: number }
  | { cmd: 'sinkReport' }
  | { cmd: 'events'; since: number; until?: number; remote?: string }

const EVENTS = [
  'associated',
  'disassociated',
  'quarantined',
  'unreachable',
  'dropped',
  'handshakeFailed',
] as const satisfies readonly SystemEventName[]
/** Events kept with their details (counts are kept for all). */
const KEEP_EVENTS = 20_000

const config = JSON.parse(process.argv[2] ?? '{}') as MeshNodeConfig
const send = (m: MeshNodeMessage): void => sendToParent(m)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)))
// ---- the systems -------------------------------------------------------------------------------

interface Sink {
  count: number
  unique: Set<number>
  duplicates: number
  outOfOrder: number
  last: number
}

interface Hosted {
  system: ActorSystem
  watcher: ActorRef
  sinks: Map<number, Sink>
  /** Refs of /user/echo at each mesh target, once resolved (index of the target). */
  echoes: Map<number, ActorRef>
}

const eventCounts: Record<string, number> = {}
const events: EventRecord[] = []
let eventsKeptFull = false

function onEvent(name: string, ev: Record<string, unknown>): void {
  const n = name === 'dropped' && typeof ev['count'] === 'number' ? (ev['count'] as number) : 1
  eventCounts[name] = (eventCounts[name] ?? 0) + 1
  if (name === 'dropped') eventCounts['droppedMessages'] = (eventCounts['droppedMessages'] ?? 0) + n
  if (name === 'quarantined' && ev['byPeer'] === true) eventCounts['quarantinedByPeer'] = (eventCounts['quarantinedByPeer'] ?? 0) + 1
  if (events.length >= KEEP_EVENTS) {
    eventsKeptFull = true
    return
  }
  const detail =
    name === 'dropped'
      ? `${String(ev['kind'])}: ${String(ev['reason'] ?? '')}`
      : name === 'unreachable'
        ? `phi ${String(ev['phi'])}`
        : name === 'associated'
          ? ''
          : `${name === 'quarantined' && ev['byPeer'] === true ? 'by the peer: ' : ''}${String(ev['reason'] ?? '')}`
  events.push({ at: Date.now(), name, remote: String(ev['remote'] ?? ''), detail, count: n })
}

const hosted: Hosted[] = []
for (const { name, port } of config.systems) {
  const remote = {
    ...config.remote,
    transport: config.transport,
    host: config.host,
    port,
    ...(config.tls !== undefined ? { tls: { ...config.tls, requestCert: true } } : {}),
  } as RemoteOptions
  const system = await ActorSystem.create(name, { remote, logger: 'silent' })
  for (const ev of EVENTS) system.events.on(ev, (e) => onEvent(ev, e as unknown as Record<string, unknown>))
  system.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  const sinks = new Map<number, Sink>()
  system.actorOf((m) => {
    const { from, seq } = m as { from: number; seq: number }
    let s = sinks.get(from)
    if (s === undefined) sinks.set(from, (s = { count: 0, unique: new Set(), duplicates: 0, outOfOrder: 0, last: 0 }))
    s.count++
    if (s.unique.has(seq)) s.duplicates++
    else s.unique.add(seq)
    if (seq < s.last) s.outOfOrder++
    s.last = seq
  }, 'sink')
  const watcher = system.actorOf((m, ctx) => {
    if (m instanceof Terminated) {
      send({ type: 'terminated', path: m.ref.path.toString(), addressTerminated: m.addressTerminated, at: Date.now() })
    } else if (typeof m === 'object' && m !== null && (m as { watch?: ActorRef }).watch !== undefined) {
      ctx.watch((m as { watch: ActorRef }).watch)
    }
  }, 'watcher')
  hosted.push({ system, watcher, sinks, echoes: new Map() })
}

/** The sampling timer of the event-loop delay histogram; what it records is this interval plus the delay. */
const ELD_RESOLUTION_MS = 20
const eld = config.eventLoopDelay ? monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS }) : undefined
eld?.enable()

let gcCount = 0
let gcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++
    gcMs += e.duration
  }
}).observe({ entryTypes: ['gc'] })

/** The targets of the last mesh command (addresses). */
let meshTargets: string[] = []
const ownAddresses = new Set(hosted.map((h) => h.system.address.toString()))

// ---- commands ------------------------------------------------------------------------------------

async function mesh(c: Extract<Command, { cmd: 'mesh' }>): Promise<PairResult[]> {
  meshTargets = c.targets
  const results: PairResult[] = []
  let answered = 0
  let failed = 0
  const only = c.only === undefined ? undefined : new Set(c.only.map(([s, t]) => `${s}:${t}`))
  const total = only?.size ?? hosted.length * c.targets.filter((t) => !ownAddresses.has(t)).length
  const timer = setInterval(() => send({ type: 'progress', answered, failed, total }), 1000)
  const reach = async (s: number, t: number): Promise<PairResult> => {
    const h = hosted[s] as Hosted
    const path = `${c.targets[t]}/user/echo`
    let attempts = 0
    let error: string | undefined
    while (Date.now() < c.deadlineAt) {
      attempts++
      const started = Date.now()
      let phase = 'resolveOne'
      try {
        const ref = await h.system
          .actorSelection(path)
          .resolveOne({ timeoutMs: Math.max(1, Math.min(c.attemptTimeoutMs, c.deadlineAt - started)) })
        phase = 'ask'
        const answer = await h.system.ask(ref, `ping ${s}`, {
          timeoutMs: Math.max(1, Math.min(c.attemptTimeoutMs, c.deadlineAt - Date.now())),
        })
        if (answer !== `ping ${s}`) throw new Error(`wrong answer ${String(answer)}`)
        h.echoes.set(t, ref)
        answered++
        return { s, t, ok: true, attempts, at: Date.now() }
      } catch (err) {
        error = `${phase}: ${errorText(err)}`
        const spent = Date.now() - started
        if (spent < c.retryDelayMs) await sleep(Math.min(c.retryDelayMs - spent, c.deadlineAt - Date.now()))
      }
    }
    failed++
    return { s, t, ok: false, attempts, ...(error !== undefined ? { error } : { error: 'deadline before the first attempt' }) }
  }
  const all: Promise<PairResult>[] = []
  for (let s = 0; s < hosted.length; s++)
    for (let t = 0; t < c.targets.length; t++)
      if (!ownAddresses.has(c.targets[t] as string) && (only === undefined || only.has(`${s}:${t}`))) all.push(reach(s, t))
  for (const r of await Promise.all(all)) results.push(r)
  clearInterval(timer)
  send({ type: 'progress', answered, failed, total })
  return results
}

/** Every system watches /user/echo at every target of the mesh, then waits until every watch is acknowledged. */
async function watchAll(c: Extract<Command, { cmd: 'watchAll' }>): Promise<{ watches: number; ms: number; unacked: number }> {
  const started = Date.now()
  let watches = 0
  for (const h of hosted) {
    for (let t = 0; t < meshTargets.length; t++) {
      const target = meshTargets[t] as string
      if (ownAddresses.has(target)) continue
      // a pair that never answered is watched by path (no network round trip to make the ref)
      const ref = h.echoes.get(t) ?? h.system.resolveActorRef(`${target}/user/echo`)
      h.watcher.tell({ watch: ref })
      watches++
    }
  }
  let unacked = 0
  while (Date.now() - started < c.timeoutMs) {
    await sleep(200)
    unacked = 0
    for (const h of hosted) for (const a of h.system.associations()) unacked += a.unackedSystemMessages
    if (unacked === 0) break
  }
  return { watches, ms: Date.now() - started, unacked }
}

function stats(resetEld: boolean): NodeStats {
  const out: NodeStats = {
    pid: process.pid,
    at: Date.now(),
    associations: 0,
    byState: {},
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    dropped: 0,
    lostInTransit: 0,
    systemMessagesSent: 0,
    systemMessagesResent: 0,
    unackedSystemMessages: 0,
    reconnects: 0,
    events: { ...eventCounts },
    deadLetters: 0,
    heapUsedMb: Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10,
    gcCount,
    gcMs: Math.round(gcMs * 10) / 10,
  }
  for (const h of hosted) {
    out.deadLetters += h.system.deadLetterCount
    for (const a of h.system.associations()) {
      out.associations++
      out.byState[a.state] = (out.byState[a.state] ?? 0) + 1
      out.framesSent += a.framesSent
      out.framesReceived += a.framesReceived
      out.bytesSent += a.bytesSent
      out.bytesReceived += a.bytesReceived
      out.messagesSent += a.messagesSent
      out.messagesReceived += a.messagesReceived
      out.dropped += a.dropped
      out.lostInTransit += a.lostInTransit
      out.systemMessagesSent += a.systemMessagesSent
      out.systemMessagesResent += a.systemMessagesResent
      out.unackedSystemMessages += a.unackedSystemMessages
      out.reconnects += a.reconnects
    }
  }
  if (eld !== undefined) {
    // the histogram records the timer's interval plus the delay: the delay is what exceeds the interval
    const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - ELD_RESOLUTION_MS) * 100) / 100)
    out.eld = { mean: ms(eld.mean), p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max), count: eld.count }
    if (resetEld) eld.reset()
  }
  return out
}

async function traffic(c: Extract<Command, { cmd: 'traffic' }>): Promise<TrafficResult[]> {
  const runs = hosted.map(async (h): Promise<TrafficResult> => {
    const targets = meshTargets.map((t, i) => ({ t, i })).filter(({ t }) => !ownAddresses.has(t))
    const sinks = targets.map(({ t }) => h.system.resolveActorRef(`${t}/user/sink`))
    const echoes = targets.map(({ t, i }) => h.echoes.get(i) ?? h.system.resolveActorRef(`${t}/user/echo`))
    const sent = meshTargets.map(() => 0)
    const latencies: number[] = []
    const askErrors: Record<string, number> = {}
    let askFailures = 0
    const asks: Promise<void>[] = []
    const interval = 1000 / c.ratePerPeer
    const ticks = Math.max(1, Math.floor((c.durationMs / 1000) * c.ratePerPeer))
    const lates: number[] = []
    const startedAt = Date.now()
    let nextAsk = startedAt + Math.random() * c.askIntervalMs
    let k = Math.floor(Math.random() * Math.max(1, targets.length))
    for (let tick = 1; tick <= ticks; tick++) {
      const due = startedAt + (tick - 1) * interval
      const wait = due - Date.now()
      if (wait > 0) await sleep(wait)
      // a sender that fell behind stops at the end of the phase: what it could not send is not sent
      else if (Date.now() - startedAt > c.durationMs) break
      lates.push(Math.max(0, Date.now() - due))
      for (let j = 0; j < sinks.length; j++) {
        ;(sinks[j] as ActorRef).tell({ from: config.index, seq: tick })
        sent[(targets[j] as { i: number }).i] = tick
      }
      // sampled asks, one peer after the other, at their own pace
      while (c.askIntervalMs > 0 && targets.length > 0 && Date.now() >= nextAsk) {
        nextAsk += c.askIntervalMs
        const ref = echoes[k++ % targets.length] as ActorRef
        const t0 = performance.now()
        asks.push(
          h.system.ask(ref, `lat ${tick}`, { timeoutMs: c.askTimeoutMs }).then(
            () => {
              latencies.push(Math.round((performance.now() - t0) * 1000) / 1000)
            },
            (err: unknown) => {
              askFailures++
              const e = errorText(err)
              askErrors[e] = (askErrors[e] ?? 0) + 1
            },
          ),
        )
      }
    }
    const endedAt = Date.now()
    await Promise.all(asks)
    lates.sort((a, b) => a - b)
    return {
      sent,
      startedAt,
      endedAt,
      latencies,
      askFailures,
      askErrors,
      lateP50Ms: lates[Math.floor((lates.length - 1) / 2)] ?? 0,
      lateMaxMs: lates[lates.length - 1] ?? 0,
    }
  })
  return Promise.all(runs)
}

function sinkReport(): Record<string, { count: number; unique: number; duplicates: number; outOfOrder: number }>[] {
  return hosted.map((h) => {
    const out: Record<string, { count: number; unique: number; duplicates: number; outOfOrder: number }> = {}
    for (const [from, s] of h.sinks)
      out[from] = { count: s.count, unique: s.unique.size, duplicates: s.duplicates, outOfOrder: s.outOfOrder }
    return out
  })
}

/**
 * With MESH_PROFILE_DIR set, the first four processes write a CPU profile of their part of the
 * formation there (node<index>.cpuprofile, 5 ms sampling: little enough not to change the run).
 */
async function profiled<T>(run: () => Promise<T>): Promise<T> {
  const dir = process.env.MESH_PROFILE_DIR
  if (dir === undefined || config.index > 3) return run()
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 5000 })
  await session.post('Profiler.start')
  try {
    return await run()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(`${dir}/node${config.index}.cpuprofile`, JSON.stringify(profile))
    session.disconnect()
  }
}

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'mesh':
      return profiled(() => mesh(c))
    case 'watchAll':
      return watchAll(c)
    case 'stats':
      return stats(c.resetEld === true)
    case 'traffic':
      return traffic(c)
    case 'sinkReport':
      return sinkReport()
    case 'associationsWith': {
      // what each system's associations with these remotes say (every incarnation, current last)
      const out: unknown[] = []
      for (const h of hosted)
        for (const a of h.system.associations())
          if (c.remotes.includes(a.remote.toString()))
            out.push({
              system: h.system.address.toString(),
              remote: a.remote.toString(),
              state: a.state,
              localUid: String(a.localUid),
              remoteUid: a.remoteUid === undefined ? null : String(a.remoteUid),
              queued: a.queued,
              messagesSent: a.messagesSent,
              messagesReceived: a.messagesReceived,
              dropped: a.dropped,
              lostInTransit: a.lostInTransit,
              decodeErrors: a.decodeErrors,
              reconnects: a.reconnects,
              bytesSent: a.bytesSent,
              bytesReceived: a.bytesReceived,
              unackedSystemMessages: a.unackedSystemMessages,
              phi: Number.isFinite(a.phi) ? Math.round(a.phi * 100) / 100 : String(a.phi),
            })
      return out
    }
    case 'events':
      return {
        events: events.filter(
          (e) => e.at >= c.since && (c.until === undefined || e.at <= c.until) && (c.remote === undefined || e.remote.includes(c.remote)),
        ),
        truncated: eventsKeptFull,
      }
  }
}

serveParent<Command>(handle)

const first = hosted[0] as Hosted
send({
  type: 'ready',
  address: first.system.address.toString(),
  uid: first.system.nodeUid.toString(),
  addresses: hosted.map((h) => h.system.address.toString()),
  pid: process.pid,
  at: Date.now(),
})
