/**
 * The raw baseline: the benchmark's traffic over hand-written framed sockets (u32 BE length +
 * msgpackr) with no pipeline and no actors. One connection carries every client of a run (as one
 * association carries every actor of the project); each ping-pong frame is `[client, "hit"]`, the
 * echo side unpacks it and packs it again, exactly as an echo actor would receive and re-send it.
 *
 * Server side (B): {@link startRawServer}. Client side (A): {@link rawPingPong},
 * {@link rawLatency}, {@link rawOneWay}.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram'
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls'
import type { TlsMaterial } from './certs.js'
import { DatagramLink, type FlushMode, type Link, onDatagramFrames, StreamLink } from './link.js'
import {
  HIT,
  LatencyRecorder,
  type LatencyResult,
  type LatencySpec,
  nowMs,
  ONEWAY_FIN,
  type OneWayResult,
  type OneWaySpec,
  oneWayResult,
  payloadOf,
  type PingPongResult,
  type PingPongSpec,
  pingPongResult,
  STALL_MS,
  type Transport,
} from './workloads.js'

const HOST = '127.0.0.1'
const UDP_BUFFER = 4 * 1024 * 1024

/** What a raw server does with each frame. */
export type RawServerMode = 'echo' | 'sink'

export interface RawServerOptions {
  transport: Transport
  mode: RawServerMode
  /** Sink mode: acknowledge cumulatively every this many messages. */
  ackEvery: number
  tls?: TlsMaterial
}

export interface RawServer {
  port: number
  close(): Promise<void>
}

/** Per-connection frame handler of the server. */
function serverHandler(mode: RawServerMode, ackEvery: number, link: () => Link): (value: unknown) => void {
  if (mode === 'echo') return (value) => link().send(value)
  let count = 0
  return (value) => {
    if (value === ONEWAY_FIN) {
      link().send([count])
      return
    }
    count++
    if (count % ackEvery === 0) link().send(count)
  }
}

/** Starts a raw echo or sink server on 127.0.0.1, port 0. */
export async function startRawServer(opts: RawServerOptions): Promise<RawServer> {
  if (opts.transport === 'udp') return startUdpServer(opts)
  const sockets = new Set<Socket>()
  const onConnection = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let link: StreamLink | undefined
    link = new StreamLink(
      socket,
      serverHandler(opts.mode, opts.ackEvery, () => link!),
    )
  }
  let server: Server
  if (opts.transport === 'tls') {
    if (!opts.tls) throw new Error('tls material missing')
    server = createTlsServer(
      { key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true },
      onConnection,
    )
  } else {
    server = createNetServer({ noDelay: true }, onConnection)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no server address')
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function bindUdp(): Promise<DgramSocket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, HOST, () => resolve())
  })
  socket.on('error', () => {})
  return socket
}

async function startUdpServer(opts: RawServerOptions): Promise<RawServer> {
  const socket = await bindUdp()
  const link = new DatagramLink(socket, HOST, 0)
  const handle = serverHandler(opts.mode, opts.ackEvery, () => link)
  onDatagramFrames(
    socket,
    (value, port) => {
      link.retarget(port)
      handle(value)
    },
    () => link,
  )
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}

interface ClientLink {
  link: Link
  close(): void
}

/** Connects a client link to a raw server; frames arrive at `onFrame`. */
async function connectRaw(
  transport: Transport,
  port: number,
  onFrame: (value: unknown) => void,
  mode: FlushMode,
  tls: TlsMaterial | undefined,
): Promise<ClientLink> {
  if (transport === 'udp') {
    const socket = await bindUdp()
    const link = new DatagramLink(socket, HOST, port, mode)
    onDatagramFrames(
      socket,
      (value) => onFrame(value),
      () => link,
    )
    return { link, close: () => socket.close() }
  }
  const socket = await new Promise<Socket>((resolve, reject) => {
    let s: Socket
    if (transport === 'tls') {
      if (!tls) throw new Error('tls material missing')
      s = tlsConnect({ host: HOST, port, key: tls.key, cert: tls.cert, ca: tls.ca }, () => resolve(s))
    } else {
      s = netConnect({ host: HOST, port, noDelay: true }, () => resolve(s))
    }
    s.once('error', reject)
    setTimeout(() => reject(new Error(`raw ${transport} connect timed out`)), 10_000).unref()
  })
  socket.on('error', () => {})
  const link = new StreamLink(socket, onFrame, mode)
  return { link, close: () => socket.destroy() }
}

/** RemotePingPong over one raw connection: N clients, a window of `spec.window` each. */
export async function rawPingPong(port: number, spec: PingPongSpec, tls?: TlsMaterial): Promise<PingPongResult> {
  const n = spec.clients
  const target = spec.repliesPerClient
  const goal = n * target
  const sent = new Int32Array(n)
  const received = new Int32Array(n)
  let total = 0
  let lost = 0
  let link!: Link
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))

  const onFrame = (value: unknown): void => {
    const c = (value as [number, string])[0]
    if (received[c]! >= target) return
    received[c]!++
    total++
    if (sent[c]! < target && sent[c]! - received[c]! < spec.window) {
      sent[c]!++
      link.send([c, HIT])
    }
    if (total === goal) finish()
  }
  const client = await connectRaw(spec.transport, port, onFrame, 'batch', tls)
  link = client.link

  const refill = (c: number): void => {
    while (sent[c]! < target && sent[c]! - received[c]! < spec.window) {
      sent[c]!++
      link.send([c, HIT])
    }
  }
  const start = nowMs()
  for (let c = 0; c < n; c++) refill(c)
  link.flush()

  let seen = -1
  const stall = setInterval(() => {
    // Only udp loses messages; over tcp and tls a pause is just a pause.
    if (spec.transport !== 'udp') return
    if (total !== seen) {
      seen = total
      return
    }
    // No reply for a whole period: what is in flight is lost (udp); send the window again.
    for (let c = 0; c < n; c++) {
      lost += sent[c]! - received[c]!
      sent[c] = received[c]!
      refill(c)
    }
  }, STALL_MS)
  const cap = setTimeout(finish, spec.maxMs)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
  }
  const elapsed = nowMs() - start
  client.close()
  return pingPongResult(spec, total, elapsed, lost)
}

/** Round trips with one request in flight; the first `warmup` are not recorded. */
export async function rawLatency(port: number, spec: LatencySpec, tls?: TlsMaterial): Promise<LatencyResult> {
  const payload = payloadOf(spec.payloadBytes)
  const recorder = new LatencyRecorder()
  let replies = 0
  let sentAt = 0
  let link!: Link
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  const total = spec.warmup + spec.count
  // Each request carries a sequence number: a reply that comes after its request was given up
  // (udp) is ignored instead of being timed against the wrong request.
  let seq = 0
  const onFrame = (value: unknown): void => {
    const now = nowMs()
    if ((value as [number, string])[0] !== seq) return
    replies++
    if (replies > spec.warmup) recorder.recordNanos(Math.max(1, Math.round((now - sentAt) * 1e6)))
    if (replies >= total) return finish()
    seq++
    sentAt = nowMs()
    link.send([seq, payload])
  }
  const client = await connectRaw(spec.transport, port, onFrame, 'sync', tls)
  link = client.link
  sentAt = nowMs()
  link.send([seq, payload])
  let seen = -1
  const stall = setInterval(() => {
    // Only udp loses messages; over tcp and tls a pause is just a pause.
    if (spec.transport !== 'udp') return
    if (replies !== seen) {
      seen = replies
      return
    }
    recorder.lost++
    seq++
    sentAt = nowMs()
    link.send([seq, payload])
  }, STALL_MS)
  const cap = setTimeout(finish, spec.maxMs)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
  }
  client.close()
  return recorder.result()
}

/** A one-way stream to a sink with cumulative acks; ends with a fin that returns the count. */
export async function rawOneWay(port: number, spec: OneWaySpec, tls?: TlsMaterial): Promise<OneWayResult> {
  const payload = payloadOf(spec.payloadBytes)
  let sent = 0
  let acked = 0
  let lostOffset = 0
  let finSent = false
  let stopSending = false
  let received = -1
  let progress = 0
  let link!: Link
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))

  const pump = (): void => {
    const limit = stopSending ? sent : spec.messages
    while (sent < limit && sent - acked < spec.window) {
      link.send(payload)
      sent++
    }
    if (sent >= limit && !finSent) {
      finSent = true
      link.send(ONEWAY_FIN)
    }
  }
  const onFrame = (value: unknown): void => {
    progress++
    if (typeof value === 'number') {
      acked = Math.max(acked, value + lostOffset)
      pump()
    } else if (Array.isArray(value)) {
      received = value[0] as number
      finish()
    }
  }
  const client = await connectRaw(spec.transport, port, onFrame, 'batch', tls)
  link = client.link
  const start = nowMs()
  pump()
  let seen = -1
  const stall = setInterval(() => {
    // Only udp loses messages; over tcp and tls a pause is just a pause.
    if (spec.transport !== 'udp') return
    if (progress !== seen) {
      seen = progress
      return
    }
    if (finSent) link.send(ONEWAY_FIN)
    else {
      lostOffset += sent - acked
      acked = sent
      pump()
    }
  }, STALL_MS)
  const cap = setTimeout(() => {
    stopSending = true
    pump()
  }, spec.maxMs)
  const hardCap = setTimeout(finish, spec.maxMs + 5_000)
  try {
    await done
  } finally {
    clearInterval(stall)
    clearTimeout(cap)
    clearTimeout(hardCap)
  }
  const elapsed = nowMs() - start
  client.close()
  return oneWayResult(spec, sent, Math.max(0, received), elapsed)
}
