/**
 * Side B of the soak (bench/soak.bench.ts), in a child process: an actor system with one echo
 * actor per ping-pong client, and its association counters and RSS on request. Commands come
 * over IPC; it exits when the parent disconnects, and after 3 hours in any case.
 */
import { createEchoActors } from './helios.js'
import { createRemoteSystem, type HeliosSystem, loadHelios } from './heliosApi.js'
import { memoryReport } from './machine.js'
import { associationSnapshot, type SoakNodeCommand, type SoakNodeReply } from './soakProtocol.js'
import type { Transport } from './workloads.js'

let system: HeliosSystem | undefined

async function handle(cmd: SoakNodeCommand): Promise<unknown> {
  switch (cmd.op) {
    case 'start': {
      const loaded = await loadHelios()
      if (!loaded.ok) throw new Error(loaded.reason)
      await system?.terminate()
      system = await createRemoteSystem(loaded.ActorSystem, 'B', cmd.transport as Transport, undefined)
      return { address: system.address.toString() }
    }
    case 'echo':
      if (system === undefined) throw new Error('no system')
      return { paths: createEchoActors(system, cmd.prefix, cmd.count) }
    case 'stats':
      return { memory: memoryReport(), associations: system === undefined ? [] : associationSnapshot(system) }
    case 'stop': {
      const s = system
      system = undefined
      await s?.terminate()
      return {}
    }
  }
}

const send = (reply: SoakNodeReply): void => {
  if (process.connected) process.send?.(reply)
}

process.on('message', (msg: { id: number; cmd: SoakNodeCommand }) => {
  handle(msg.cmd).then(
    (result) => send({ id: msg.id, ok: true, result }),
    (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.on('disconnect', () => {
  const s = system
  system = undefined
  void Promise.resolve(s?.terminate()).finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 4_000).unref()
})
setTimeout(() => process.exit(3), 3 * 3_600_000).unref()
send({ type: 'ready' })
