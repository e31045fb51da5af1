/**
 * The DTLS cases that are not ping-pong: the time of a handshake (p50 of fresh sessions, DTLS
 * against TLS over the same certificates) and the memory a DTLS server holds per session (RSS of
 * side B with 1,000 sessions open). Side B runs a @helios/transport DTLS echo server; side A opens
 * the sessions with Bootstrap.connect, one UDP socket each.
 */
import { connect as tlsConnect } from 'node:tls'
import { Bootstrap, type Channel, ServerBootstrap, type ServerChannel } from '@helios/transport'
import type { TlsMaterial } from './certs.js'

const HOST = '127.0.0.1'

/** Side B's DTLS echo server. */
export interface DtlsServer {
  readonly port: number
  sessions(): number
  close(): Promise<void>
}

export async function startDtlsEchoServer(tls: TlsMaterial): Promise<DtlsServer> {
  const server: ServerChannel = await new ServerBootstrap()
    .transport('dtls')
    .options({ tls: { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true }, dtls: { maxPendingHandshakes: 1024 } })
    .childHandler((ch) => {
      ch.pipeline.addLast('echo', {
        channelRead: (ctx, bytes) => {
          ctx.writeAndFlush(bytes)
        },
      })
    })
    .bind(0, HOST)
  return { port: server.localAddress?.port as number, sessions: () => server.children.size, close: () => server.close() }
}

/** Handshake times of one transport, in ms. */
export interface HandshakeRow {
  transport: 'dtls' | 'tls'
  count: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
}

/** RSS of side B with `sessions` DTLS sessions open. */
export interface SessionsRow {
  sessions: number
  rssBeforeMb: number
  rssAfterMb: number
  /** V8 heap in use before and after (after a collection). */
  heapBeforeMb: number
  heapAfterMb: number
  /** (after - before) / sessions. */
  kbPerSession: number
  /** Time to open them all (in batches of 50), s. */
  openSec: number
}

function dtlsClient(tls: TlsMaterial): Bootstrap {
  return new Bootstrap().transport('dtls').options({ tls: { key: tls.key, cert: tls.cert, ca: tls.ca, servername: 'localhost' } })
}

function percentiles(transport: 'dtls' | 'tls', ms: number[]): HandshakeRow {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
  return { transport, count: s.length, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99) }
}

/** `count` fresh DTLS sessions one after the other: connect (cookie exchange, full handshake, mutual certificates) then close. */
export async function dtlsHandshakes(port: number, tls: TlsMaterial, count: number): Promise<HandshakeRow> {
  const times: number[] = []
  const client = dtlsClient(tls)
  for (let i = 0; i < 3; i++) await (await client.connect(port, HOST)).close() // warm-up, not recorded
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const ch = await client.connect(port, HOST)
    times.push(performance.now() - t0)
    await ch.close()
  }
  return percentiles('dtls', times)
}

/** The same over TLS (node:tls, TLS 1.3 by default) to the raw TLS echo server, for comparison. */
export async function tlsHandshakes(port: number, tls: TlsMaterial, count: number): Promise<HandshakeRow> {
  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now()
      const s = tlsConnect({ host: HOST, port, key: tls.key, cert: tls.cert, ca: tls.ca, servername: 'localhost' }, () => {
        const dt = performance.now() - t0
        s.destroy()
        resolve(dt)
      })
      s.once('error', reject)
    })
  for (let i = 0; i < 3; i++) await once()
  const times: number[] = []
  for (let i = 0; i < count; i++) times.push(await once())
  return percentiles('tls', times)
}

/** Opens `count` sessions (50 at a time) and keeps them; `measure` reads side B's RSS before and after. */
export async function dtlsSessions(
  port: number,
  tls: TlsMaterial,
  count: number,
  rss: () => Promise<{ sessions: number; rssMb: number; heapMb: number }>,
): Promise<SessionsRow> {
  const before = await rss()
  const client = dtlsClient(tls)
  const open: Channel[] = []
  const t0 = performance.now()
  try {
    while (open.length < count) {
      const batch = Math.min(50, count - open.length)
      open.push(...(await Promise.all(Array.from({ length: batch }, () => client.connect(port, HOST)))))
    }
    const openSec = (performance.now() - t0) / 1000
    const after = await rss()
    if (after.sessions < count) throw new Error(`side B holds ${after.sessions} sessions, not ${count}`)
    return {
      sessions: count,
      rssBeforeMb: before.rssMb,
      rssAfterMb: after.rssMb,
      heapBeforeMb: before.heapMb,
      heapAfterMb: after.heapMb,
      kbPerSession: ((after.rssMb - before.rssMb) * 1024) / count,
      openSec,
    }
  } finally {
    await Promise.all(open.map((ch) => ch.close()))
  }
}
