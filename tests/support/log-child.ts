/**
 * A node as a user would run it (no listener, no NODE_DEBUG), for the logging tests: resolves an
 * actor on a port where nothing listens, prints the rejection on stdout and terminates. argv[2]:
 * 'default' (no logger option) or 'silent'.
 */
import { createServer } from 'node:net'
import { ActorSystem } from '@helios/actors'

const mode = process.argv[2]
const server = createServer()
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
const port = (server.address() as { port: number }).port
await new Promise<void>((resolve) => server.close(() => resolve()))

const system = await ActorSystem.create('A', {
  ...(mode === 'silent' ? { logger: 'silent' as const } : {}),
  remote: { transport: 'tcp', host: '127.0.0.1', port: 0, reconnectMinBackoffMs: 20, reconnectMaxBackoffMs: 50 },
})
try {
  await system.actorSelection(`helios.tcp://B@127.0.0.1:${port}/user/echo`).resolveOne({ timeoutMs: 600 })
} catch (err) {
  console.log(`${(err as Error).name}: ${(err as Error).message}`)
}
await system.terminate()
