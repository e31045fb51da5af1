import type { ExecutionContext } from 'ava'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { ActorSystem } from '@helios/actors'

/** A TCP proxy on 127.0.0.1 that can cut every connection passing through it (a network cut). */
export interface CutProxy {
  readonly port: number
  /** Connections opened through the proxy so far. */
  readonly connections: number
  /**
   * Per connection, in order: the lane byte of the connector's Helios preamble (0 control, 1 user;
   * -1 when the first bytes were no preamble) and the bytes the acceptor wrote back so far.
   */
  readonly lanes: readonly { lane: number; bytesBack: number }[]
  /** Destroys every open connection pair (both sides see a reset). */
  cut(): void
  /** Cuts, and while `on` resets every new connection at once (the path is down). */
  block(on: boolean): void
  close(): Promise<void>
}

/** Forwards connections on a free port to `targetPort`. */
export function startProxy(targetPort: number): Promise<CutProxy> {
  const pairs = new Set<[Socket, Socket]>()
  let connections = 0
  const lanes: { lane: number; bytesBack: number }[] = []
  let blocked = false
  const cut = (): void => { for (const [i, o] of [...pairs]) { i.resetAndDestroy(); o.resetAndDestroy() } pairs.clear() }
  const server: Server = createServer((inbound) => {
    if (blocked) { inbound.resetAndDestroy(); return }
    connections++
    const info = { lane: -1, bytesBack: 0 }
    lanes.push(info)
    inbound.once('data', (d: Buffer) => { if (d.length >= 8 && d.subarray(0, 6).toString('latin1') === 'HELIOS') info.lane = d[7]! })
    const outbound = connect(targetPort, '127.0.0.1')
    outbound.on('data', (d: Buffer) => { info.bytesBack += d.length })
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
        lanes,
        cut,
        block(on: boolean) {
          blocked = on
          if (on) cut()
        },
        close() {
          for (const [i, o] of pairs) { i.destroy(); o.destroy() }
          return new Promise<void>((r) => server.close(() => r()))
        },
      })
    })
  })
}

/** Fast heartbeats and reconnects, so that cuts heal within a test. */
export const FAST_REMOTING = { heartbeatIntervalMs: 200, reconnectMinBackoffMs: 20, reconnectMaxBackoffMs: 200, systemMessageResendIntervalMs: 200 }

/** A TCP port that was free a moment ago (bound by a throwaway system, then released). */
export async function freePort(): Promise<number> {
  const s = await ActorSystem.create('P', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  const port = s.address.port as number
  await s.terminate()
  return port
}

/**
 * Two tcp nodes A and B that each listen on their own port but advertise a proxy's, so every
 * connection either opens passes a proxy the test can cut: `toA` carries the connections B opens,
 * `toB` those A opens. Both are torn down with the test.
 */
export async function proxiedPair(t: ExecutionContext): Promise<{ a: ActorSystem; b: ActorSystem; toA: CutProxy; toB: CutProxy }> {
  const [aPort, bPort] = [await freePort(), await freePort()]
  const toA = await startProxy(aPort)
  const toB = await startProxy(bPort)
  const b = await ActorSystem.create('B', { remote: { transport: 'tcp', host: '127.0.0.1', port: bPort, advertisedPort: toB.port, ...FAST_REMOTING } })
  const a = await ActorSystem.create('A', { remote: { transport: 'tcp', host: '127.0.0.1', port: aPort, advertisedPort: toA.port, ...FAST_REMOTING } })
  t.teardown(async () => { await a.terminate(); await b.terminate(); await toA.close(); await toB.close() })
  return { a, b, toA, toB }
}
