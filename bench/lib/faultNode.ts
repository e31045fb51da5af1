/**
 * One node of the faults benchmark (faults.bench.ts), in a process of its own (and, as root, in
 * a network namespace of its own): an actor system with
 *
 * - /user/echo: answers every message with itself;
 * - /user/watcher: watches (and unwatches) refs it is told to, reports every Terminated;
 * - /user/sink: counts numbered messages `{ from, seq }` per sender (duplicates, order);
 * - /user/wt0 .. wt9: targets of the watch/unwatch check, stopped on command;
 *
 * and reports to the parent over IPC: 'ready' once it listens, every system event (associated,
 * disassociated, quarantined, unreachable, dropped, handshakeFailed) with every field of the event
 * object, every Terminated, with `at` = Date.now() (all nodes run on one machine, so the clocks
 * agree). It answers commands (watch, probe, stream, ...) and exits when the parent goes away.
 *
 *   node --import tsx lib/faultNode.ts '<json config>'
 */
import { ActorSystem, Terminated, type ActorRef, type RemoteOptions, type SystemEventName } from '@helios/actors'
import { errorText, sendToParent, serveParent } from './childNode.js'

export interface FaultNodeConfig {
  name: string
  transport: 'tcp' | 'tls' | 'udp'
  host: string
  port: number
  tls?: { key: string; cert: string; ca: string }
  heartbeatIntervalMs: number
  failureDetector: { threshold: number; acceptableHeartbeatPauseMs: number; minStdDeviationMs: number }
  /** Watch targets created at start (/user/wt0 ..). */
  watchTargets: number
}

/** What a node sends to the parent. */
export type NodeMessage =
  | { type: 'ready'; address: string; uid: string; pid: number; at: number }
  | { type: 'event'; name: string; at: number; event: Record<string, unknown> }
  | { type: 'terminated'; path: string; addressTerminated: boolean; existenceConfirmed: boolean; at: number }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }

/** The events reported to the parent. */
export const REPORTED_EVENTS = [
  'associated',
  'disassociated',
  'quarantined',
  'unreachable',
  'dropped',
  'handshakeFailed',
] as const satisfies readonly SystemEventName[]

/** A JSON-safe copy of any value: bigint as a string, addresses and refs by their text, errors by name and message. */
export function plain(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null
  switch (typeof value) {
    case 'bigint':
      return value.toString()
    case 'number':
      return Number.isFinite(value) ? value : String(value) // JSON has no Infinity
    case 'string':
    case 'boolean':
      return value
    case 'function':
    case 'symbol':
      return String(value)
  }
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code
    return { name: value.name, message: value.message, ...(code !== undefined ? { code: String(code) } : {}) }
  }
  if (depth > 3) return String(value)
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1))
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) {
    // Address, ActorRef, ActorPath ...: their text form is what a reader wants
    const path = (value as { path?: unknown }).path
    if (path !== undefined && typeof (value as { tell?: unknown }).tell === 'function') return String(path)
    if (typeof (value as { toString?: unknown }).toString === 'function' && (value as object).toString !== Object.prototype.toString)
      return String(value)
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = plain(v, depth + 1)
  return out
}

type Command =
  | { cmd: 'watch'; paths: string[]; timeoutMs: number }
  | { cmd: 'watchRefs'; watch: string[]; unwatch: string[] }
  | { cmd: 'probe'; path: string; resolveTimeoutMs: number; askTimeoutMs: number }
  | { cmd: 'stream'; path: string; count: number; intervalMs: number }
  | { cmd: 'streamReport'; to: string }
  | { cmd: 'sinkReport' }
  | { cmd: 'stopTargets' }
  | { cmd: 'associations' }
  | { cmd: 'terminate' }

const config = JSON.parse(process.argv[2] ?? '{}') as FaultNodeConfig
const send = (m: NodeMessage): void => sendToParent(m)

const remote: RemoteOptions = {
  transport: config.transport,
  host: config.host,
  port: config.port,
  heartbeatIntervalMs: config.heartbeatIntervalMs,
  failureDetector: config.failureDetector,
  ...(config.tls !== undefined ? { tls: { ...config.tls, requestCert: true } } : {}),
}
const system = await ActorSystem.create(config.name, { remote })

// ---- streams and what became of them ---------------------------------------------------------

interface StreamOut {
  sent: number
  /** Messages of 'dropped' events naming the sink (one message each). */
  dropped: number
  /** Messages that 'dropped' events without a recipient stand for (`count`: not confirmed when the association ended). */
  droppedInAggregate: number
  deadLetters: number
  firstAt: number
  lastAt: number
}
const streams = new Map<string, StreamOut>()
const isSink = (path: string | undefined): boolean => path !== undefined && path.includes('/user/sink')
/** A 'dropped' event for a sink message comes right before its dead letter (same call stack); count it once. */
let dropJustReported = 0

for (const name of REPORTED_EVENTS) {
  system.events.on(name, (ev) => {
    send({ type: 'event', name, at: Date.now(), event: plain(ev) as Record<string, unknown> })
    if (name === 'dropped') {
      const { recipient, remote, count } = ev as { recipient?: string; remote?: unknown; count?: unknown }
      const n = typeof count === 'number' ? count : 1
      if (isSink(recipient)) {
        for (const [to, s] of streams) if (recipient?.startsWith(to)) s.dropped += n
        dropJustReported++
        queueMicrotask(() => {
          dropJustReported = 0
        })
      } else if (recipient === undefined || !recipient.includes('/user/')) {
        // an event that stands for several messages to a peer, recipients unknown: the stream's
        // messages are the only user traffic to that peer while it runs
        for (const [to, s] of streams) if (String(remote) === to) s.droppedInAggregate += n
      }
    }
  })
}
system.events.on('deadLetter', (d) => {
  const m = d.message as { from?: unknown; seq?: unknown } | undefined
  if (typeof m !== 'object' || m === null || typeof m.seq !== 'number') return
  if (dropJustReported > 0) {
    dropJustReported--
    return
  } // counted as dropped
  const path = d.recipient.path.toString()
  for (const [to, s] of streams) if (path.startsWith(to)) s.deadLetters++
})

// ---- actors ------------------------------------------------------------------------------

system.actorOf((m, ctx) => {
  ctx.sender?.tell(m, ctx.self)
}, 'echo')

const watcher = system.actorOf((m, ctx) => {
  if (m instanceof Terminated) {
    send({
      type: 'terminated',
      path: m.ref.path.toString(),
      addressTerminated: m.addressTerminated,
      existenceConfirmed: m.existenceConfirmed,
      at: Date.now(),
    })
  } else if (typeof m === 'object' && m !== null) {
    const w = (m as { watch?: ActorRef }).watch
    const u = (m as { unwatch?: ActorRef }).unwatch
    if (w !== undefined) ctx.watch(w)
    if (u !== undefined) ctx.unwatch(u)
  }
}, 'watcher')

interface SinkFrom {
  count: number
  unique: Set<number>
  duplicates: number
  outOfOrder: number
  last: number
}
const sink = new Map<string, SinkFrom>()
system.actorOf((m) => {
  const { from, seq } = m as { from: string; seq: number }
  let s = sink.get(from)
  if (s === undefined) sink.set(from, (s = { count: 0, unique: new Set(), duplicates: 0, outOfOrder: 0, last: 0 }))
  s.count++
  if (s.unique.has(seq)) s.duplicates++
  else s.unique.add(seq)
  if (seq < s.last) s.outOfOrder++
  s.last = seq
}, 'sink')

const targets: ActorRef[] = []
for (let i = 0; i < config.watchTargets; i++) targets.push(system.actorOf(() => {}, `wt${i}`))

// ---- commands ----------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'watch': {
      const results = await Promise.all(
        c.paths.map(async (path) => {
          try {
            const ref = await system.actorSelection(path).resolveOne({ timeoutMs: c.timeoutMs })
            watcher.tell({ watch: ref })
            return { path, ok: true }
          } catch (err) {
            return { path, ok: false, error: errorText(err) }
          }
        }),
      )
      return results
    }
    case 'watchRefs': {
      // refs made from the path alone: nothing is asked over the network to make them
      for (const p of c.watch) watcher.tell({ watch: system.resolveActorRef(p) })
      for (const p of c.unwatch) watcher.tell({ unwatch: system.resolveActorRef(p) })
      return true
    }
    case 'probe': {
      const started = Date.now()
      let phase = 'resolveOne'
      try {
        const ref = await system.actorSelection(c.path).resolveOne({ timeoutMs: c.resolveTimeoutMs })
        const resolvedAt = Date.now()
        phase = 'ask'
        const answer = await system.ask(ref, `probe ${started}`, { timeoutMs: c.askTimeoutMs })
        if (answer !== `probe ${started}`) throw new Error(`wrong answer ${String(answer)}`)
        return { ok: true, resolveMs: resolvedAt - started, totalMs: Date.now() - started, at: Date.now() }
      } catch (err) {
        return { ok: false, phase, error: errorText(err), totalMs: Date.now() - started, at: Date.now() }
      }
    }
    case 'stream': {
      const to = system.resolveActorRef(c.path)
      const base = c.path.slice(0, c.path.indexOf('/user/'))
      const s: StreamOut = { sent: 0, dropped: 0, droppedInAggregate: 0, deadLetters: 0, firstAt: Date.now(), lastAt: 0 }
      streams.set(base, s)
      const me = system.address.toString()
      const start = Date.now()
      for (let i = 1; i <= c.count; i++) {
        to.tell({ from: me, seq: i })
        s.sent = i
        s.lastAt = Date.now()
        const next = start + i * c.intervalMs
        const wait = next - Date.now()
        if (wait > 0) await sleep(wait)
      }
      return { sent: s.sent, firstAt: s.firstAt, lastAt: s.lastAt }
    }
    case 'streamReport': {
      const s = streams.get(c.to)
      return s === undefined ? null : { ...s }
    }
    case 'sinkReport': {
      const out: Record<string, unknown> = {}
      for (const [from, s] of sink)
        out[from] = { count: s.count, unique: s.unique.size, duplicates: s.duplicates, outOfOrder: s.outOfOrder }
      return out
    }
    case 'stopTargets':
      for (const t of targets) system.stop(t)
      return targets.length
    case 'associations':
      return plain(system.associations())
    case 'terminate':
      await system.terminate()
      setImmediate(() => process.exit(0))
      return true
  }
}

serveParent<Command>(handle)

send({ type: 'ready', address: system.address.toString(), uid: system.nodeUid.toString(), pid: process.pid, at: Date.now() })
