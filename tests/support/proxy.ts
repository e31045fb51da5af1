import { createServer, connect, type Server, type Socket } from 'node:net'

/** A TCP proxy on 127.0.0.1 that can cut every connection passing through it (a network cut). */
export interface CutProxy {
  readonly port: number
  /** Connections opened through the proxy so far. */
  readonly connections: number
  /** Destroys every open connection pair (both sides see a reset). */
  cut(): void
  close(): Promise<void>
}

/** Forwards connections on a free port to `targetPort`. */
export function startProxy(targetPort: number): Promise<CutProxy> {
  const pairs = new Set<[Socket, Socket]>()
  let connections = 0
  const server: Server = createServer((inbound) => {
    connections++
    const outbound = connect(targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [inbound, outbound]
    pairs.add(pair)
    const end = (): void => { pairs.delete(pair); inbound.destroy(); outbound.destroy() }
    inbound.on('error', end).on('close', end)
    outbound.on('error', end).on('close', end)
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      resolve({
        port,
        get connections() { return connections },
        cut() { for (const [i, o] of [...pairs]) { i.resetAndDestroy(); o.resetAndDestroy() } pairs.clear() },
        close() {
          for (const [i, o] of pairs) { i.destroy(); o.destroy() }
          return new Promise<void>((r) => server.close(() => r()))
        },
      })
    })
  })
}
