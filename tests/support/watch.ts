import { Terminated, type ActorRef, type ActorSystem } from '@helios/actors'

/** A watch of one ref from a fresh actor of `system`. */
export interface Watch {
  /** Resolves once the watch was made (it then travels to the watchee's node as a system message). */
  readonly ready: Promise<void>
  /** Resolves with the Terminated and the `performance.now()` it arrived at. */
  readonly terminated: Promise<{ readonly msg: Terminated; readonly at: number }>
}

/** Watches `target` from a fresh actor of `system`. */
export function watchFrom(system: ActorSystem, target: ActorRef): Watch {
  let ready!: () => void
  const readyP = new Promise<void>((r) => {
    ready = r
  })
  const terminated = new Promise<{ msg: Terminated; at: number }>((resolve) => {
    const w = system.actorOf((m, ctx) => {
      if (m === 'go') {
        ctx.watch(target)
        ready()
      } else if (m instanceof Terminated) resolve({ msg: m, at: performance.now() })
    })
    w.tell('go')
  })
  return { terminated, ready: readyP }
}

/** Sleeps `ms` (only where nothing but time can be awaited: a partition that lasts). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `attempt` until it resolves (each failure retried after `everyMs`), or rejects after `withinMs`. */
export async function eventually<T>(what: string, attempt: () => Promise<T>, withinMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + withinMs
  let last: unknown
  for (;;) {
    try {
      return await attempt()
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms (last: ${String(last)})`)
    await sleep(everyMs)
  }
}
