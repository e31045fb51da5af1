import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { nodeCerts } from './certs.js'

/** What a test node process reports besides replies. */
export interface NodeEvent {
  readonly type: 'event' | 'terminated'
  readonly name?: string
  readonly reason?: string
  readonly remote?: string
  readonly path?: string
  readonly addressTerminated?: boolean
  /** `quarantined` events: true when the peer quarantined this node. */
  readonly byPeer?: boolean
  /** `dropped` events: how many messages. */
  readonly count?: number
  readonly at?: number
}

/** Options of {@link spawnNode}: the JSON config of `node-main.ts`. */
export interface SpawnOptions {
  readonly name: string
  readonly transport: 'tcp' | 'tls' | 'udp' | 'dtls'
  readonly port?: number
  readonly advertisedPort?: number
  readonly tls?: 'trusted' | 'untrusted'
  readonly remote?: Record<string, unknown>
}

/** A running test node (an actor system in a child process). */
export interface TestNode {
  readonly process: ChildProcess
  readonly address: string
  readonly uid: string
  readonly events: NodeEvent[]
  /** Sends a command and resolves with its result. */
  command<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>
  /** Resolves with the first event (past or future) matching `pred`. */
  waitFor(pred: (e: NodeEvent) => boolean, timeoutMs?: number): Promise<NodeEvent>
  /** Sends a signal and resolves when the process exited (for SIGKILL/SIGTERM). */
  kill(signal?: NodeJS.Signals): Promise<void>
}

const main = fileURLToPath(new URL('./node-main.ts', import.meta.url))
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL')
})

/** Starts a test node in a child process; resolves once its actor system is up. */
export function spawnNode(options: SpawnOptions): Promise<TestNode> {
  if (options.tls !== undefined) nodeCerts() // made here, inherited by the child: one CA for all
  const child = fork(main, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  live.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child)
      resolve()
    }),
  )
  const events: NodeEvent[] = []
  const waiters: { pred: (e: NodeEvent) => boolean; resolve: (e: NodeEvent) => void }[] = []
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  return new Promise<TestNode>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('test node did not start in 20 s'))
    }, 20_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`test node exited early (${code})`))
    })
    child.on('message', (raw) => {
      const m = raw as { type: string; id?: number; result?: unknown; error?: string; address?: string; uid?: string }
      if (m.type === 'ready') {
        clearTimeout(timer)
        resolve({
          process: child,
          address: m.address as string,
          uid: m.uid as string,
          events,
          command<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
            const id = nextId++
            return new Promise<T>((res, rej) => {
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej })
              child.send({ id, cmd, ...args })
            })
          },
          waitFor(pred, timeoutMs = 15_000) {
            const found = events.find(pred)
            if (found !== undefined) return Promise.resolve(found)
            return new Promise<NodeEvent>((res, rej) => {
              const t = setTimeout(
                () => rej(new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(events)}`)),
                timeoutMs,
              )
              waiters.push({
                pred,
                resolve: (e) => {
                  clearTimeout(t)
                  res(e)
                },
              })
            })
          },
          kill(signal = 'SIGKILL') {
            child.kill(signal)
            return signal === 'SIGSTOP' || signal === 'SIGCONT' ? Promise.resolve() : exited
          },
        })
      } else if (m.type === 'reply') {
        const p = pending.get(m.id as number)
        pending.delete(m.id as number)
        if (m.error !== undefined) p?.reject(new Error(m.error))
        else p?.resolve(m.result)
      } else {
        const e = m as unknown as NodeEvent
        events.push(e)
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i]!
          if (w.pred(e)) {
            waiters.splice(i, 1)
            w.resolve(e)
          }
        }
      }
    })
  })
}
