/**
 * Side A's handle on side B: a child process (the default, two nodes as in production) or the
 * same process (`--in-process`, like the original RemotePingPong). Every request is bounded in
 * time, and every child is killed when the parent ends, whether it ends well, throws, or is
 * interrupted.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MemoryReport } from './machine.js'
import { SideB, type SideBCommand } from './sideB.js'

export interface Peer {
  /** 'child' or 'in-process'. */
  readonly kind: string
  readonly pid: number
  request<T>(cmd: SideBCommand, timeoutMs?: number): Promise<T>
  memory(): Promise<MemoryReport>
  close(): Promise<void>
}

/** Messages on the IPC channel. */
export type WorkerRequest = { id: number; cmd: SideBCommand }
export type WorkerReply = { type: 'ready' } | { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }

const DEFAULT_TIMEOUT_MS = 30_000
const live = new Set<ChildProcess>()
let hooksInstalled = false

/** Kills every child still alive; safe to call many times. */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  live.clear()
}

function installHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllChildren)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllChildren()
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
}

/** Side B in a child process started with `node --import tsx lib/worker.ts`. */
export class ChildPeer implements Peer {
  readonly kind = 'child'
  private readonly child: ChildProcess
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  private exited = false

  private constructor(child: ChildProcess) {
    this.child = child
    child.on('message', (msg: WorkerReply) => {
      if (!('id' in msg)) return
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new Error(msg.error))
    })
    child.once('exit', (code, signal) => {
      this.exited = true
      live.delete(child)
      for (const p of this.pending.values()) p.reject(new Error(`side B exited (code ${code}, signal ${signal})`))
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Forks the worker and waits (at most 30 s) until it says it is ready. */
  static async spawn(extraNodeArgs: readonly string[] = []): Promise<ChildPeer> {
    installHooks()
    const here = dirname(fileURLToPath(import.meta.url))
    const child = fork(`${here}/worker.ts`, [], {
      cwd: dirname(here),
      execArgv: ['--import', 'tsx', '--expose-gc', ...extraNodeArgs],
      // B's stdout goes to our stderr: stdout carries only the tables and the --json line.
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    child.stdout?.pipe(process.stderr, { end: false })
    live.add(child)
    const peer = new ChildPeer(child)
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('side B did not start within 30 s')), 30_000)
        child.on('message', (msg: WorkerReply) => {
          if ('type' in msg && msg.type === 'ready') {
            clearTimeout(timer)
            resolve()
          }
        })
        child.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`side B exited at start (code ${code})`))
        })
        child.once('error', (err) => {
          clearTimeout(timer)
          reject(err)
        })
      })
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
    return peer
  }

  request<T>(cmd: SideBCommand, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    if (this.exited) return Promise.reject(new Error('side B is gone'))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`side B did not answer '${cmd.op}' within ${timeoutMs} ms`))
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
      this.child.send({ id, cmd } satisfies WorkerRequest)
    })
  }

  memory(): Promise<MemoryReport> {
    return this.request<MemoryReport>({ op: 'memory' }, 5_000)
  }

  /** Asks B to shut down (3 s), then kills it if it is still there. */
  async close(): Promise<void> {
    if (!this.exited) {
      await this.request({ op: 'shutdown' }, 5_000).catch(() => {})
      this.child.disconnect()
      await new Promise<void>((resolve) => {
        if (this.exited) return resolve()
        const timer = setTimeout(() => {
          this.child.kill('SIGKILL')
          resolve()
        }, 3_000)
        this.child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    live.delete(this.child)
  }
}

/** Side B in this process. */
export class InProcessPeer implements Peer {
  readonly kind = 'in-process'
  readonly pid = process.pid
  private readonly side = new SideB()

  async request<T>(cmd: SideBCommand): Promise<T> {
    return (await this.side.handle(cmd)) as T
  }

  async memory(): Promise<MemoryReport> {
    return (await this.side.handle({ op: 'memory' })) as MemoryReport
  }

  close(): Promise<void> {
    return this.side.shutdown()
  }
}
