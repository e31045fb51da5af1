import * as dgram from 'node:dgram'
import { HOST } from './net.js'

/** Direction of a datagram through a {@link UdpProxy}. */
export type Direction = 'toServer' | 'toClient'

/** What a proxy does with each datagram: pass it (default), drop it, or pass it and also send `extra` copies. */
export type Verdict = 'pass' | 'drop'

/**
 * A UDP proxy for one client: datagrams from the first client that sends to it go to the target,
 * the target's answers go back to that client. `filter` sees every datagram (with its running
 * number per direction) and may drop it; `seen` keeps every datagram that passed, for replays.
 */
export interface UdpProxy {
  readonly port: number
  readonly seen: { readonly dir: Direction; readonly data: Buffer }[]
  /** Sends raw bytes as if from the client to the server. */
  injectToServer(data: Buffer): void
  /** Sends raw bytes as if from the server to the client. */
  injectToClient(data: Buffer): void
  close(): Promise<void>
}

export async function udpProxy(
  targetPort: number,
  filter: (dir: Direction, n: number, data: Buffer) => Verdict = () => 'pass',
): Promise<UdpProxy> {
  const front = dgram.createSocket('udp4')
  const back = dgram.createSocket('udp4')
  const counts = { toServer: 0, toClient: 0 }
  const seen: { dir: Direction; data: Buffer }[] = []
  let client: dgram.RemoteInfo | undefined
  front.on('message', (msg, rinfo) => {
    client ??= rinfo
    if (filter('toServer', counts.toServer++, msg) === 'drop') return
    seen.push({ dir: 'toServer', data: msg })
    back.send(msg, targetPort, HOST)
  })
  back.on('message', (msg) => {
    if (client === undefined) return
    if (filter('toClient', counts.toClient++, msg) === 'drop') return
    seen.push({ dir: 'toClient', data: msg })
    front.send(msg, client.port, client.address)
  })
  await new Promise<void>((resolve) => front.bind(0, HOST, () => resolve()))
  await new Promise<void>((resolve) => back.bind(0, HOST, () => resolve()))
  return {
    port: front.address().port,
    seen,
    injectToServer(data) {
      back.send(data, targetPort, HOST)
    },
    injectToClient(data) {
      if (client !== undefined) front.send(data, client.port, client.address)
    },
    close: async () => {
      await new Promise<void>((resolve) => front.close(() => resolve()))
      await new Promise<void>((resolve) => back.close(() => resolve()))
    },
  }
}
