/**
 * The node processes of the faults benchmark: start (in their namespaces when there are some),
 * commands over IPC, the log of what each reported, signals, restarts, and a full mesh of
 * watches (every node watching /user/echo on every other node).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FaultNet, NodeSlot } from './faultNet.js'
import type { FaultNodeConfig, NodeMessage } from './faultNode.js'

const benchDir = dirname(dirname(fileURLToPath(import.meta.url)))
const nodeMain = join(benchDir, 'lib', 'faultNode.ts')

export type LogEntry = Extract<NodeMessage, { type: 'event' } | { type: 'terminated' }>
export type EventEntry = Extract<NodeMessage, { type: 'event' }>
export type TerminatedEntry = Extract<NodeMessage, { type: 'terminated' }>

const live = new Set<ChildProcess>()

/** SIGKILLs every node process still alive (stopped ones too); synchronous. */
export function killAllNodes(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
  live.clear()
}

/** One incarnation of a node. */
export class NodeProc {
  readonly log: LogEntry[] = []
  address = ''
  uid = ''
  /** Date.now() when its actor system was listening. */
  readyAt = 0
  /** The whole 'ready' message (node programs may say more than address and uid). */
  ready: unknown
  exitedAt: number | undefined
  /** How it ended: "code 0", "signal SIGKILL". */
  exitReason: string | undefined
  /** The last 4 KiB the process wrote on stdout/stderr. */
  outputTail = ''
  readonly exited: Promise<void>
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>()
  private readonly waiters: { pred: (e: LogEntry) => boolean; resolve(e: LogEntry | undefined): void; timer: NodeJS.Timeout }[] = []

  constructor(
    readonly slot: NodeSlot,
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    live.add(child)
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitedAt = Date.now()
        this.exitReason = signal !== null ? `signal ${signal}` : `code ${code}`
        live.delete(child)
        for (const p of this.pending.values()) {
          clearTimeout(p.timer)
          p.reject(new Error(`${name} exited`))
        }
        this.pending.clear()
        resolve()
      }),
    )
    child.on('message', (m: NodeMessage) => this.onMessage(m))
  }

  get pid(): number {
    return this.child.pid ?? -1
  }
  get alive(): boolean {
    return this.exitedAt === undefined
  }

  /** Messages of other kinds than the faults node's (another benchmark's node program: progress, ...). */
  onOther: ((m: { type: string }) => void) | undefined

  private onMessage(m: NodeMessage): void {
    if (m.type !== 'reply' && m.type !== 'ready' && m.type !== 'event' && m.type !== 'terminated') {
      this.onOther?.(m)
      return
    }
    if (m.type === 'reply') {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      clearTimeout(p.timer)
      if (m.ok) p.resolve(m.result)
      else p.reject(new Error(m.error))
      return
    }
    if (m.type === 'ready') return
    this.log.push(m)
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i] as (typeof this.waiters)[number]
      if (w.pred(m)) {
        this.waiters.splice(i, 1)
        clearTimeout(w.timer)
        w.resolve(m)
      }
    }
  }

  /** Sends a command; rejects after `timeoutMs` or when the process exits. */
  command<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (!this.alive || !this.child.connected) return Promise.reject(new Error(`${this.name} is not running`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.name} did not answer '${cmd}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer })
      this.child.send({ id, cmd, ...args })
    })
  }

  /** The first entry (past or future) matching `pred`, or undefined after `timeoutMs`. */
  waitFor(pred: (e: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry | undefined> {
    const found = this.log.find(pred)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          resolve(undefined)
        }, timeoutMs),
      }
      this.waiters.push(w)
    })
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig)
  }

  /** SIGKILL, resolved once the process is gone. */
  async kill(): Promise<void> {
    this.signal('SIGKILL')
    await this.exited
  }
}

export interface SpawnNodeOptions {
  readonly net: FaultNet
  readonly slot: NodeSlot
  readonly name: string
  /** The node program (run with `node --import tsx <main> '<config as JSON>'`). */
  readonly main: string
  readonly config: unknown
  /** Where the node's own stdout/stderr go, each line prefixed with its name. */
  readonly output: NodeJS.WritableStream
  readonly timeoutMs: number
  /** Put before the node command inside the slot (e.g. `prlimit --nofile=N:N --`). */
  readonly wrap?: readonly string[]
  /** Environment of the node process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv
}

/**
 * Starts a node program in its slot (its namespace, if any) with an IPC channel; resolves once it
 * sent `{ type: 'ready', address, uid, at }`, rejects when it exits or does not within the timeout.
 */
export async function spawnNode(o: SpawnNodeOptions): Promise<NodeProc> {
  const { file, args } = o.net.command(o.slot, [...(o.wrap ?? []), process.execPath, '--import', 'tsx', o.main, JSON.stringify(o.config)])
  const child = spawn(file, args, { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: o.env ?? process.env })
  const prefix = `[${o.name}] `
  const proc = new NodeProc(o.slot, o.name, child)
  const forward = (chunk: Buffer): void => {
    const text = chunk.toString('utf8')
    proc.outputTail = (proc.outputTail + text).slice(-4096)
    o.output.write(
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => `${prefix}${l}\n`)
        .join(''),
    )
  }
  child.stdout?.on('data', forward)
  child.stderr?.on('data', forward)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${o.name} did not start within ${o.timeoutMs} ms`))
    }, o.timeoutMs)
    child.on('message', (m: NodeMessage) => {
      if (m.type !== 'ready') return
      clearTimeout(timer)
      proc.address = m.address
      proc.uid = m.uid
      proc.readyAt = m.at
      proc.ready = m
      resolve()
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(
        new Error(
          `${o.name} exited at start (code ${code}, signal ${signal})${proc.outputTail ? `: ${proc.outputTail.trim().split('\n').pop()}` : ''}`,
        ),
      )
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
  return proc
}

export interface ClusterOptions {
  readonly transport: 'tcp' | 'tls' | 'udp'
  readonly net: FaultNet
  readonly heartbeatIntervalMs: number
  readonly failureDetector: FaultNodeConfig['failureDetector']
  readonly tls?: { key: string; cert: string; ca: string }
  readonly watchTargets: number
  /** Where the nodes' own stdout/stderr go (never our stdout: it carries the tables and JSON). */
  readonly output: NodeJS.WritableStream
}

export class Cluster {
  /** The current incarnation of each slot. */
  readonly nodes: NodeProc[] = []
  /** Every incarnation started, for the cleanup. */
  private readonly all: NodeProc[] = []

  constructor(readonly options: ClusterOptions) {}

  name(slot: NodeSlot): string {
    return `N${slot.index}`
  }

  /** Starts a node in `slot`; resolves once its actor system listens. */
  async spawn(slot: NodeSlot, timeoutMs = 60_000): Promise<NodeProc> {
    const o = this.options
    const config: FaultNodeConfig = {
      name: this.name(slot),
      transport: o.transport,
      host: slot.host,
      port: slot.port,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      failureDetector: o.failureDetector,
      watchTargets: o.watchTargets,
      ...(o.transport === 'tls' && o.tls !== undefined ? { tls: o.tls } : {}),
    }
    const proc = await spawnNode({ net: o.net, slot, name: config.name, main: nodeMain, config, output: o.output, timeoutMs })
    this.all.push(proc)
    this.nodes[slot.index] = proc
    return proc
  }

  /** Starts every slot, a few at a time (the machine may have few cores). */
  async start(parallel = 4): Promise<void> {
    const slots = [...this.options.net.slots]
    const workers = Array.from({ length: Math.min(parallel, slots.length) }, async () => {
      for (let s = slots.shift(); s !== undefined; s = slots.shift()) await this.spawn(s)
    })
    await Promise.all(workers)
  }

  /**
   * Every node watches /user/echo on every other node (resolveOne each), then waits until every
   * association is established with no unacknowledged system message. Resolves with what failed.
   */
  async fullMesh(timeoutMs = 30_000): Promise<{ ms: number; complete: boolean; failures: string[] }> {
    const started = Date.now()
    const failures: string[] = []
    await Promise.all(
      this.nodes.map(async (n) => {
        const paths = this.nodes.filter((o) => o !== n).map((o) => `${o.address}/user/echo`)
        const res = await n.command<{ path: string; ok: boolean; error?: string }[]>('watch', { paths, timeoutMs: 10_000 }, 60_000)
        for (const r of res) if (!r.ok) failures.push(`${n.name} -> ${r.path}: ${r.error}`)
      }),
    )
    const want = this.nodes.length - 1
    let complete = false
    while (Date.now() - started < timeoutMs) {
      const states = await Promise.all(
        this.nodes.map((n) => n.command<{ state: string; unackedSystemMessages: number }[]>('associations', {}, 10_000).catch(() => [])),
      )
      complete = states.every((list) => list.filter((a) => a.state === 'established' && a.unackedSystemMessages === 0).length >= want)
      if (complete) break
      await new Promise((r) => setTimeout(r, 200))
    }
    return { ms: Date.now() - started, complete: complete && failures.length === 0, failures }
  }

  /** SIGKILLs every incarnation and waits for them. */
  async stop(): Promise<void> {
    for (const n of this.all) if (n.alive) n.signal('SIGKILL')
    await Promise.all(this.all.map((n) => n.exited))
  }
}
