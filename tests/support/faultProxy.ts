/**
 * A fault-injecting proxy for tests: a user-space relay on 127.0.0.1 between two Helios nodes,
 * for TCP (TLS bytes pass untouched) and for UDP, with faults the test switches at run time.
 *
 * - `blackhole(direction)`: TCP bytes in a black-holed direction are held (bounded per direction,
 *   then the proxy stops reading that side) and delivered in order by `heal()`, as in a real
 *   partition where TCP retransmits and loses nothing if the partition ends before the peers give
 *   up. A connection accepted during a blackhole is connected upstream only at `heal()`. UDP
 *   datagrams in a black-holed direction are dropped and counted.
 * - `delay(ms)`: every chunk or datagram is forwarded `ms` later, order kept.
 * - `cut()`: TCP: every open connection pair is reset on both sides. UDP: client mappings are
 *   forgotten (the next datagram of a client gets a new upstream socket).
 * - `refuse(on)`: TCP: while on, new connections are reset right after accept.
 *
 * "forward" is client -> target (the bytes of whoever connected or sent first), "backward" is
 * target -> client. Counters are live; `until(pred)` resolves when a counter change makes `pred`
 * true, so tests wait on events instead of sleeping.
 */
import type { ExecutionContext } from 'ava'
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { ActorSystem, type RemoteOptions } from '@helios/actors'
import { trustedTls } from './certs.js'
import { spawnNode, type SpawnOptions, type TestNode } from './node.js'

/** Which way a fault applies: 'forward' is client -> target, 'backward' target -> client. */
export type Direction = 'both' | 'forward' | 'backward'
export type FaultProtocol = 'tcp' | 'udp'

/** Counters of one direction. */
export interface DirectionStats {
  /** Bytes handed to the receiving socket. */
  bytesForwarded: number
  /** TCP: bytes the proxy holds now (black-holed, delayed, or waiting for the upstream connection). */
  bytesHeld: number
  /** TCP: the most bytes held at once (in this direction, over all connections). */
  peakBytesHeld: number
  /** TCP: bytes that arrived while this direction was black-holed (cumulative). */
  bytesHeldTotal: number
  /** Bytes lost: UDP datagrams dropped; TCP bytes still held when their connection was cut or reset. */
  bytesDropped: number
  /** UDP datagrams forwarded. */
  datagramsForwarded: number
  /** UDP datagrams dropped (black-holed direction). */
  datagramsDropped: number
}

export interface FaultProxyStats {
  /** TCP connections accepted and not refused (UDP: client source addresses seen). */
  connections: number
  /** TCP connections reset at accept by `refuse(true)`. */
  refused: number
  readonly forward: DirectionStats
  readonly backward: DirectionStats
}

/** Per TCP connection: the lane byte of the connector's Helios preamble and the bytes sent back. */
export interface LaneInfo {
  /** 0 control, 1 user; -1 when the first bytes were no Helios preamble (TLS, garbage). */
  lane: number
  /** Bytes the target wrote back on this connection so far (as read from the target). */
  bytesBack: number
}

export interface FaultProxy {
  readonly protocol: FaultProtocol
  /** The proxy's port on 127.0.0.1 (what a node advertises). */
  readonly port: number
  readonly targetPort: number
  /** Connections accepted so far (TCP), client addresses seen (UDP). */
  readonly connections: number
  /** TCP connections open through the proxy now (UDP: client addresses mapped now). */
  readonly open: number
  /** Per TCP connection, in accept order. */
  readonly lanes: readonly LaneInfo[]
  readonly stats: FaultProxyStats
  /** The direction(s) black-holed now, or undefined. */
  readonly blackholed: Direction | undefined
  blackhole(direction?: Direction): void
  /** Ends the blackhole: held TCP bytes are delivered in order, pending connections connect upstream. */
  heal(): void
  /** Forwards every chunk/datagram `ms` after it arrived (0: at once); order is kept. */
  delay(ms: number): void
  cut(): void
  refuse(on: boolean): void
  /** Resolves once `pred(this)` holds, re-checked on every counter change; rejects after `timeoutMs`. */
  until(pred: (p: FaultProxy) => boolean, timeoutMs?: number, what?: string): Promise<void>
  close(): Promise<void>
}

export interface FaultProxyOptions {
  readonly protocol?: FaultProtocol
  readonly targetPort: number
  readonly targetHost?: string
  /** TCP: bytes held per direction before the proxy stops reading that side. Default 64 MiB. */
  readonly maxHeldBytes?: number
}

const HOST = '127.0.0.1'
const DEFAULT_MAX_HELD = 64 * 1024 * 1024

const emptyStats = (): DirectionStats => ({
  bytesForwarded: 0,
  bytesHeld: 0,
  peakBytesHeld: 0,
  bytesHeldTotal: 0,
  bytesDropped: 0,
  datagramsForwarded: 0,
  datagramsDropped: 0,
})

/** The state shared by both protocols: faults, counters, change notification. */
abstract class ProxyBase implements FaultProxy {
  abstract readonly protocol: FaultProtocol
  abstract readonly port: number
  abstract readonly open: number
  readonly stats: FaultProxyStats = { connections: 0, refused: 0, forward: emptyStats(), backward: emptyStats() }
  readonly lanes: LaneInfo[] = []
  protected hole: Direction | undefined
  protected delayMs = 0
  protected refusing = false
  protected readonly changes = new EventEmitter()

  constructor(
    readonly targetPort: number,
    readonly targetHost: string,
  ) {
    this.changes.setMaxListeners(0)
  }

  get connections(): number {
    return this.stats.connections
  }
  get blackholed(): Direction | undefined {
    return this.hole
  }

  /** True when bytes travelling `dir` must not pass now. */
  isBlackholed(dir: 'forward' | 'backward'): boolean {
    return this.hole === 'both' || this.hole === dir
  }

  blackhole(direction: Direction = 'both'): void {
    this.hole = direction
    this.changed()
  }

  heal(): void {
    this.hole = undefined
    this.healed()
    this.changed()
  }

  delay(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('delay must be >= 0')
    this.delayMs = ms
  }

  get currentDelay(): number {
    return this.delayMs
  }

  refuse(on: boolean): void {
    this.refusing = on
  }

  abstract cut(): void
  abstract close(): Promise<void>
  protected abstract healed(): void

  changed(): void {
    this.changes.emit('change')
  }

  until(pred: (p: FaultProxy) => boolean, timeoutMs = 5000, what = 'a proxy condition'): Promise<void> {
    if (pred(this)) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!pred(this)) return
        clearTimeout(timer)
        this.changes.off('change', check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.changes.off('change', check)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stats ${JSON.stringify(this.stats)}`))
      }, timeoutMs)
      this.changes.on('change', check)
    })
  }
}

// ---------------------------------------------------------------------------------------- TCP

type Item = { kind: 'data'; buf: Buffer; due: number } | { kind: 'end' | 'reset'; due: number }

/**
 * One direction of one connection pair: what the source sent, queued until the destination can
 * take it (not black-holed, connected, due after the delay), written in order.
 */
class Flow {
  private queue: Item[] = []
  private head = 0
  private queuedBytes = 0
  private lastDue = 0
  private timer: NodeJS.Timeout | undefined
  private destBlocked = false
  private sourcePaused = false
  /** The destination is gone: nothing more is delivered. */
  dead = false
  /** An end or reset was delivered. */
  finished = false

  constructor(
    private readonly proxy: TcpFaultProxy,
    readonly dir: 'forward' | 'backward',
    private readonly source: () => Socket | undefined,
    private readonly dest: () => Socket | undefined,
    private readonly destReady: () => boolean,
  ) {}

  private get stats(): DirectionStats {
    return this.proxy.stats[this.dir]
  }

  get pendingBytes(): number {
    return this.queuedBytes
  }

  push(kind: 'data' | 'end' | 'reset', buf?: Buffer): void {
    if (this.dead) {
      if (buf !== undefined) {
        this.stats.bytesDropped += buf.length
        this.proxy.changed()
      }
      return
    }
    const due = Math.max(Date.now() + this.proxy.currentDelay, this.lastDue)
    this.lastDue = due
    if (kind === 'data') {
      const b = buf as Buffer
      this.queue.push({ kind, buf: b, due })
      this.queuedBytes += b.length
      this.stats.bytesHeld += b.length
      if (this.stats.bytesHeld > this.stats.peakBytesHeld) this.stats.peakBytesHeld = this.stats.bytesHeld
      if (this.proxy.isBlackholed(this.dir)) this.stats.bytesHeldTotal += b.length
    } else {
      this.queue.push({ kind, due })
    }
    this.pump()
    this.proxy.changed()
  }

  /** Delivers what is due, unless black-holed or the destination is not ready. */
  pump(): void {
    if (this.dead || this.proxy.isBlackholed(this.dir) || !this.destReady()) {
      this.updateFlow()
      return
    }
    const dest = this.dest() as Socket
    let moved = false
    while (this.head < this.queue.length) {
      const item = this.queue[this.head] as Item
      const wait = item.due - Date.now()
      if (wait > 0) {
        if (this.timer === undefined)
          this.timer = setTimeout(() => {
            this.timer = undefined
            this.pump()
          }, wait)
        break
      }
      this.head++
      moved = true
      if (item.kind === 'data') {
        this.queuedBytes -= item.buf.length
        this.stats.bytesHeld -= item.buf.length
        this.stats.bytesForwarded += item.buf.length
        if (!dest.write(item.buf) && !this.destBlocked) {
          this.destBlocked = true
          dest.once('drain', () => {
            this.destBlocked = false
            this.updateFlow()
          })
        }
      } else {
        this.finished = true
        if (item.kind === 'end') dest.end()
        else dest.resetAndDestroy()
      }
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    }
    this.updateFlow()
    if (moved) this.proxy.changed()
  }

  /** Pauses the source while too much is held or the destination's buffer is full. */
  private updateFlow(): void {
    const src = this.source()
    if (src === undefined || src.destroyed) return
    const pause = this.queuedBytes >= this.proxy.maxHeldBytes || this.destBlocked
    if (pause && !this.sourcePaused) {
      this.sourcePaused = true
      src.pause()
    } else if (!pause && this.sourcePaused) {
      this.sourcePaused = false
      src.resume()
    }
  }

  /** The destination is gone (or the pair was cut): what is still held is lost. */
  kill(): void {
    if (this.dead) return
    this.dead = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.stats.bytesHeld -= this.queuedBytes
    this.stats.bytesDropped += this.queuedBytes
    this.queuedBytes = 0
    this.queue = []
    this.head = 0
  }
}

/** A client connection and its upstream connection to the target. */
class Pair {
  upstream: Socket | undefined
  upstreamConnected = false
  readonly forward: Flow
  readonly backward: Flow
  private preamble: Buffer = Buffer.alloc(0)
  private done = false

  constructor(
    private readonly proxy: TcpFaultProxy,
    readonly inbound: Socket,
    private readonly info: LaneInfo,
  ) {
    this.forward = new Flow(
      proxy,
      'forward',
      () => this.inbound,
      () => this.upstream,
      () => this.upstreamConnected && !(this.upstream as Socket).destroyed,
    )
    this.backward = new Flow(
      proxy,
      'backward',
      () => this.upstream,
      () => this.inbound,
      () => !this.inbound.destroyed,
    )
    inbound.on('data', (d: Buffer) => {
      if (this.preamble.length < 8) this.sniff(d)
      this.forward.push('data', d)
    })
    inbound.on('end', () => this.forward.push('end'))
    inbound.on('error', () => {})
    inbound.on('close', (hadError) => this.sideClosed(this.forward, this.backward, hadError))
  }

  /** Reads the lane byte of a Helios preamble ("HELIOS", version, lane) from the first bytes. */
  private sniff(d: Buffer): void {
    this.preamble = Buffer.concat([this.preamble, d.subarray(0, 8 - this.preamble.length)])
    if (this.preamble.length >= 8 && this.preamble.subarray(0, 6).toString('latin1') === 'HELIOS')
      this.info.lane = this.preamble[7] as number
  }

  /** Opens the upstream connection (at accept, or at heal for a connection accepted during a blackhole). */
  connectUpstream(): void {
    if (this.upstream !== undefined || this.done) return
    const up = connect({ port: this.proxy.targetPort, host: this.proxy.targetHost, allowHalfOpen: true })
    this.upstream = up
    up.setNoDelay(true)
    up.on('connect', () => {
      this.upstreamConnected = true
      this.forward.pump()
    })
    up.on('data', (d: Buffer) => {
      this.info.bytesBack += d.length
      this.backward.push('data', d)
    })
    up.on('end', () => this.backward.push('end'))
    up.on('error', () => {})
    up.on('close', (hadError) => {
      if (!this.upstreamConnected) {
        this.destroy(true)
        return
      } // target refused: reset the client
      this.sideClosed(this.backward, this.forward, hadError)
    })
  }

  /**
   * One socket closed. What it sent (`fromIt`) ends with a reset when it closed abruptly, after
   * everything held; what was meant for it (`toIt`) is lost.
   */
  private sideClosed(fromIt: Flow, toIt: Flow, hadError: boolean): void {
    if (this.done) return
    toIt.kill()
    if (!fromIt.finished && (hadError || !this.endSeen(fromIt))) {
      if (fromIt === this.forward && this.upstream === undefined) {
        this.destroy(false)
        return
      } // never reached the target
      fromIt.push('reset')
    }
    // A client that closed during a blackhole, before its connection reached the target, still
    // has its bytes delivered at heal (as a kernel would deliver a closed socket's send buffer).
    const upstreamGone = this.upstream === undefined ? this.forward.pendingBytes === 0 : this.upstream.destroyed
    if (this.inbound.destroyed && upstreamGone) this.finish()
    this.proxy.changed()
  }

  private endSeen(flow: Flow): boolean {
    const s = flow === this.forward ? this.inbound : this.upstream
    return s?.readableEnded ?? false
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    this.forward.kill()
    this.backward.kill()
    this.proxy.pairs.delete(this)
  }

  /** Resets both sides at once (a cut, a refused upstream, close). */
  destroy(reset: boolean): void {
    this.finish()
    for (const s of [this.inbound, this.upstream]) {
      if (s === undefined || s.destroyed) continue
      if (reset) s.resetAndDestroy()
      else s.destroy()
    }
  }

  pump(): void {
    this.forward.pump()
    this.backward.pump()
  }
}

class TcpFaultProxy extends ProxyBase {
  readonly protocol = 'tcp' as const
  readonly pairs = new Set<Pair>()
  get open(): number {
    return this.pairs.size
  }
  port = 0
  private readonly server: Server

  constructor(
    targetPort: number,
    targetHost: string,
    readonly maxHeldBytes: number,
  ) {
    super(targetPort, targetHost)
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.accept(socket))
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, HOST, () => {
        this.port = (this.server.address() as { port: number }).port
        resolve()
      })
    })
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {})
    if (this.refusing) {
      this.stats.refused++
      socket.resetAndDestroy()
      this.changed()
      return
    }
    socket.setNoDelay(true)
    this.stats.connections++
    const info: LaneInfo = { lane: -1, bytesBack: 0 }
    this.lanes.push(info)
    const pair = new Pair(this, socket, info)
    this.pairs.add(pair)
    // A SYN sent into a partition reaches the target only when the partition ends.
    if (this.hole === undefined) pair.connectUpstream()
    this.changed()
  }

  protected healed(): void {
    for (const p of [...this.pairs]) {
      p.connectUpstream()
      p.pump()
    }
  }

  cut(): void {
    for (const p of [...this.pairs]) p.destroy(true)
    this.pairs.clear()
    this.changed()
  }

  close(): Promise<void> {
    this.refusing = true
    for (const p of [...this.pairs]) p.destroy(false)
    this.pairs.clear()
    return new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

// ---------------------------------------------------------------------------------------- UDP

/** Datagrams of one direction waiting for their delay, sent in arrival order. */
class DatagramQueue {
  private queue: { due: number; send: () => void }[] = []
  private lastDue = 0
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly proxy: UdpFaultProxy) {}

  add(send: () => void): void {
    const due = Math.max(Date.now() + this.proxy.currentDelay, this.lastDue)
    this.lastDue = due
    if (this.queue.length === 0 && due <= Date.now()) {
      send()
      return
    }
    this.queue.push({ due, send })
    this.pump()
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const wait = (this.queue[0] as { due: number }).due - Date.now()
      if (wait > 0) {
        if (this.timer === undefined)
          this.timer = setTimeout(() => {
            this.timer = undefined
            this.pump()
          }, wait)
        return
      }
      ;(this.queue.shift() as { send: () => void }).send()
    }
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
  }
}

class UdpFaultProxy extends ProxyBase {
  readonly protocol = 'udp' as const
  get open(): number {
    return this.clients.size
  }
  port = 0
  private readonly front: UdpSocket = createSocket('udp4')
  /** One upstream socket per client source address, so that the target's replies route back. */
  private readonly clients = new Map<string, UdpSocket>()
  private readonly forwardQueue = new DatagramQueue(this)
  private readonly backwardQueue = new DatagramQueue(this)

  constructor(targetPort: number, targetHost: string) {
    super(targetPort, targetHost)
    this.front.on('error', () => {})
    this.front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo))
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.front.once('error', reject)
      this.front.bind(0, HOST, () => {
        this.front.off('error', reject)
        this.port = this.front.address().port
        resolve()
      })
    })
  }

  private drop(dir: 'forward' | 'backward', msg: Buffer): void {
    this.stats[dir].datagramsDropped++
    this.stats[dir].bytesDropped += msg.length
    this.changed()
  }

  private sent(dir: 'forward' | 'backward', msg: Buffer): void {
    this.stats[dir].datagramsForwarded++
    this.stats[dir].bytesForwarded += msg.length
    this.changed()
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.isBlackholed('forward')) {
      this.drop('forward', msg)
      return
    }
    const up = this.upstreamFor(rinfo)
    this.forwardQueue.add(() => {
      if (this.isBlackholed('forward')) {
        this.drop('forward', msg)
        return
      }
      try {
        up.send(msg, this.targetPort, this.targetHost, () => {})
        this.sent('forward', msg)
      } catch {
        this.drop('forward', msg) // its mapping was cut meanwhile
      }
    })
  }

  private upstreamFor(rinfo: RemoteInfo): UdpSocket {
    const key = `${rinfo.address}:${rinfo.port}`
    let up = this.clients.get(key)
    if (up !== undefined) return up
    up = createSocket('udp4')
    up.on('error', () => {})
    up.bind(0, HOST) // sends issued before the bind completes are queued by node:dgram
    up.on('message', (reply) => {
      if (this.isBlackholed('backward')) {
        this.drop('backward', reply)
        return
      }
      this.backwardQueue.add(() => {
        if (this.isBlackholed('backward')) {
          this.drop('backward', reply)
          return
        }
        try {
          this.front.send(reply, rinfo.port, rinfo.address, () => {})
          this.sent('backward', reply)
        } catch {
          this.drop('backward', reply) // the proxy was closed meanwhile
        }
      })
    })
    this.clients.set(key, up)
    this.stats.connections++
    return up
  }

  protected healed(): void {
    // nothing is held: dropped datagrams stay dropped
  }

  cut(): void {
    for (const s of this.clients.values()) s.close()
    this.clients.clear()
    this.changed()
  }

  close(): Promise<void> {
    this.cut()
    this.forwardQueue.clear()
    this.backwardQueue.clear()
    return new Promise<void>((resolve) => this.front.close(() => resolve()))
  }
}

/** Starts a proxy on 127.0.0.1 (a free port) to `targetHost:targetPort` (default 127.0.0.1). */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const host = options.targetHost ?? HOST
  const proxy =
    options.protocol === 'udp'
      ? new UdpFaultProxy(options.targetPort, host)
      : new TcpFaultProxy(options.targetPort, host, options.maxHeldBytes ?? DEFAULT_MAX_HELD)
  await proxy.listen()
  return proxy
}

// ------------------------------------------------------------------------- nodes behind proxies

/** Fast heartbeats and reconnects, so that cuts heal within a test. */
export const FAST_REMOTING = {
  heartbeatIntervalMs: 200,
  reconnectMinBackoffMs: 20,
  reconnectMaxBackoffMs: 200,
  systemMessageResendIntervalMs: 200,
}

/** A port that was free a moment ago on 127.0.0.1 (TCP by default). */
export async function freePort(protocol: FaultProtocol = 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    const s = createSocket('udp4')
    await new Promise<void>((resolve) => s.bind(0, HOST, () => resolve()))
    const port = s.address().port
    await new Promise<void>((resolve) => s.close(() => resolve()))
    return port
  }
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface ProxiedPairOptions {
  /**
   * Default 'tcp'; 'tls' runs mutual TLS (tests/support/certs.ts) through TCP proxies, 'dtls' mutual
   * DTLS through UDP proxies.
   */
  readonly transport?: 'tcp' | 'tls' | 'udp' | 'dtls'
  /** Extra remote options of both nodes (on top of {@link FAST_REMOTING}). */
  readonly remote?: Partial<RemoteOptions>
}

/**
 * Two nodes A and B that each listen on their own port but advertise a proxy's, so every
 * connection (or datagram) either sends passes a proxy the test controls: `toA` carries what B
 * opens or sends to A, `toB` what A opens or sends to B. Torn down with the test.
 */
export async function proxiedPair(
  t: ExecutionContext,
  options: ProxiedPairOptions = {},
): Promise<{ a: ActorSystem; b: ActorSystem; toA: FaultProxy; toB: FaultProxy }> {
  const transport = options.transport ?? 'tcp'
  const protocol: FaultProtocol = transport === 'udp' || transport === 'dtls' ? 'udp' : 'tcp'
  const common = {
    transport,
    host: HOST,
    ...FAST_REMOTING,
    ...(transport === 'tls' || transport === 'dtls' ? { tls: trustedTls() } : {}),
    ...options.remote,
  }
  // A free port can be taken by another test file before the node binds it: then try new ones
  // (whatever was started is stopped, so a failure leaves nothing open).
  for (let attempt = 1; ; attempt++) {
    const [aPort, bPort] = [await freePort(protocol), await freePort(protocol)]
    const toA = await startFaultProxy({ protocol, targetPort: aPort })
    const toB = await startFaultProxy({ protocol, targetPort: bPort })
    let a: ActorSystem | undefined
    let b: ActorSystem | undefined
    try {
      b = await ActorSystem.create('B', { remote: { ...common, port: bPort, advertisedPort: toB.port } })
      a = await ActorSystem.create('A', { remote: { ...common, port: aPort, advertisedPort: toA.port } })
    } catch (err) {
      await a?.terminate()
      await b?.terminate()
      await toA.close()
      await toB.close()
      if (attempt < 5 && /EADDRINUSE/.test((err as Error).message)) continue
      throw err
    }
    const [nodeA, nodeB] = [a, b]
    t.teardown(async () => {
      await nodeA.terminate()
      await nodeB.terminate()
      await toA.close()
      await toB.close()
    })
    return { a: nodeA, b: nodeB, toA, toB }
  }
}

/**
 * A node in a child process (tests/support/node.ts) behind a proxy: it listens on a free port and
 * advertises the proxy's, so what other nodes open to it passes the proxy. TCP and TLS only (a
 * UDP node's replies would bypass the proxy). Torn down with the test.
 */
export async function spawnProxiedNode(
  t: ExecutionContext,
  options: Omit<SpawnOptions, 'port' | 'advertisedPort'>,
): Promise<{ node: TestNode; proxy: FaultProxy }> {
  if (options.transport === 'udp') throw new Error('spawnProxiedNode: tcp or tls only')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort('tcp')
    const proxy = await startFaultProxy({ protocol: 'tcp', targetPort: port })
    let node: TestNode
    try {
      node = await spawnNode({ ...options, port, advertisedPort: proxy.port })
    } catch (err) {
      // the port was taken before the node bound it (see proxiedPair)
      await proxy.close()
      if (attempt < 5 && /EADDRINUSE/.test((err as Error).message)) continue
      throw err
    }
    t.teardown(async () => {
      await node.kill('SIGKILL')
      await proxy.close()
    })
    return { node, proxy }
  }
}
