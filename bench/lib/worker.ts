/**
 * Entry point of the side-B child process: serves SideB commands over IPC. It exits when the
 * parent disconnects (so it never outlives the benchmark) and after 15 minutes in any case.
 */
import type { WorkerReply, WorkerRequest } from './peer.js'
import { SideB } from './sideB.js'

const side = new SideB()
const send = (reply: WorkerReply): void => {
  if (process.connected) process.send?.(reply)
}

process.on('message', (msg: WorkerRequest) => {
  side.handle(msg.cmd).then(
    (result) => send({ id: msg.id, ok: true, result }),
    (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.on('disconnect', () => {
  void side.shutdown().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 4_000).unref()
})
setTimeout(() => process.exit(3), 15 * 60_000).unref()
send({ type: 'ready' })
