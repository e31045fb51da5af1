/**
 * What the soak's two processes say to each other (bench/soak.bench.ts and lib/soakNode.ts), the
 * association counters both read from `system.associations()`, and the handle on the child.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HeliosSystem } from './heliosApi.js'
import type { MemoryReport } from './machine.js'

export type SoakNodeCommand =
  | { op: 'start'; transport: string }
  | { op: 'echo'; prefix: string; count: number }
  | { op: 'stats' }
  | { op: 'stop' }

export type SoakNodeReply = { type: 'ready' } | { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }

/** The compression counters of an association (absent on a commit that did not report them). */
export interface CompressionSnapshot {
  /** Actor paths written in envelopes towards the peer (recipients, senders, refs in messages). */
  actorRefsWritten: number
  /** Of them, written as a compression index. */
  actorRefsCompressed: number
  /** Actor paths compressed towards the peer now (usable indexes). */
  outboundActorRefs: number
  /** Generation of the outbound tables (0 before the first new generation). */
  outboundGeneration: number
  /** Estimated bytes held by the association's compression tables. */
  bytes: number
}

/** One association as the soak reads it. */
export interface AssociationSnapshot {
  remote: string
  state: string
  messagesSent: number
  messagesReceived: number
  decodeErrors: number
  dropped: number
  lostInTransit: number
  compression: CompressionSnapshot | undefined
}

type AssociationsOf = { associations?: () => readonly Record<string, unknown>[] }

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** The established (or latest) associations of `system`, as plain numbers. */
export function associationSnapshot(system: HeliosSystem): AssociationSnapshot[] {
  const list = (system as HeliosSystem & AssociationsOf).associations?.() ?? []
  return list.map((a) => {
    const c = a['compression'] as Record<string, unknown> | undefined
    return {
      remote: String(a['remote']),
      state: String(a['state']),
      messagesSent: num(a['messagesSent']),
      messagesReceived: num(a['messagesReceived']),
      decodeErrors: num(a['decodeErrors']),
      dropped: num(a['dropped']),
      lostInTransit: num(a['lostInTransit']),
      compression:
        c === undefined || typeof c['actorRefsWritten'] !== 'number'
          ? undefined
          : {
              actorRefsWritten: num(c['actorRefsWritten']),
              actorRefsCompressed: num(c['actorRefsCompressed']),
              outboundActorRefs: num(c['outboundActorRefs']),
              outboundGeneration: num(c['outboundGeneration']),
              bytes: num(c['bytes']),
            },
    }
  })
}

const live = new Set<ChildProcess>()
let hooked = false

/** Kills every soak node still alive (safe to call many times). */
export function killSoakNodes(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  live.clear()
}

/** Side B in a child process (`node --import tsx lib/soakNode.ts`), every request bounded in time. */
export class SoakNode {
  private readonly child: ChildProcess
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private exited = false

  private constructor(child: ChildProcess) {
    this.child = child
    child.on('message', (msg: SoakNodeReply) => {
      if (!('id' in msg)) return
      const p = this.pending.get(msg.id)
      if (p === undefined) return
      this.pending.delete(msg.id)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new Error(msg.error))
    })
    child.once('exit', (code, signal) => {
      this.exited = true
      live.delete(child)
      for (const p of this.pending.values()) p.reject(new Error(`soak node exited (code ${code}, signal ${signal})`))
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Forks the node and waits (at most 30 s) until it is ready. */
  static async spawn(): Promise<SoakNode> {
    if (!hooked) {
      hooked = true
      process.on('exit', killSoakNodes)
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.once(signal, () => {
          killSoakNodes()
          process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
        })
      }
    }
    const here = dirname(fileURLToPath(import.meta.url))
    const child = fork(`${here}/soakNode.ts`, [], {
      cwd: dirname(here),
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    child.stdout?.pipe(process.stderr, { end: false })
    live.add(child)
    const node = new SoakNode(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('soak node did not start within 30 s')), 30_000)
      child.on('message', (msg: SoakNodeReply) => {
        if ('type' in msg && msg.type === 'ready') {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`soak node exited at start (code ${code})`))
      })
    }).catch((err: unknown) => {
      child.kill('SIGKILL')
      throw err
    })
    return node
  }

  request<T>(cmd: SoakNodeCommand, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error('soak node is gone'))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`soak node did not answer '${cmd.op}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v as T)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      this.child.send({ id, cmd })
    })
  }

  /** RSS and association counters of side B. */
  stats(): Promise<{ memory: MemoryReport; associations: AssociationSnapshot[] }> {
    return this.request({ op: 'stats' }, 10_000)
  }

  /** Disconnects (the node terminates its system and exits), then kills it if it is still there after 5 s. */
  async close(): Promise<void> {
    if (!this.exited) {
      this.child.disconnect()
      await new Promise<void>((resolve) => {
        if (this.exited) return resolve()
        const timer = setTimeout(() => {
          this.child.kill('SIGKILL')
          resolve()
        }, 5_000)
        this.child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    live.delete(this.child)
  }
}
