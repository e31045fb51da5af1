/**
 * Attacks on a live Helios node, over real sockets: what a hostile (or broken) peer can do to a node
 * that listens at `target`. Shared by the quick hostile tests (tests/hostile-*.test.ts) and the
 * hostile-input benchmark (bench/hostile.bench.ts, whose attacker processes call these functions),
 * so that a test can assert a bound under exactly the attack the benchmark measures.
 *
 * Nothing here knows the node's internals: every function only writes bytes a peer may write
 * (docs/PROTOCOL.md), and returns what it did (bytes, frames, identities) and how to stop. What the
 * node did about it (its memory, its descriptors, its events) is for the caller to measure.
 *
 * | attack                                                | function                 |
 * | ----------------------------------------------------- | ------------------------ |
 * | spoofed identities parking incomplete fragments       | {@link parkFragments}    |
 * | identities filling full compression tables            | {@link fillCompression}  |
 * | envelopes whose sender names unknown nodes (dialling) | {@link strangerEnvelopes}|
 * | a datagram flood from one associated peer             | {@link udpFlood}         |
 * | mutated frames of every kind (tcp and udp)            | {@link fuzzNode}         |
 * | what the node dials: a silent host, a third party     | {@link Tarpit}, {@link ListenerSink}, {@link UdpSink} |
 * | a legitimate association's ping-pong                  | {@link startPings}       |
 *
 * Identities: a spoofed identity is a handshake request from an address (a system name at a host and
 * port) and a uid that nobody proves. The node takes it at its word (handshaking) and dials the
 * address back to confirm it; with `establish`, a {@link ListenerSink} (tcp) or the identity's own
 * socket (udp) answers that dial with a handshake response echoing the node's nonce, so the identity
 * becomes established (and can later be quarantined, e.g. by {@link IdentityAttack.leave}).
 *
 * @example
 * // 24 spoofed identities, each parking what one peer may make the node hold on its user lane:
 * const node = nodeTarget(system.address.toString())
 * const attack = await parkFragments(node, { identities: 24, lane: 'user' })
 * t.true(process.memoryUsage.rss() < idle + 256 * 2 ** 20)   // the node's budget under the attack
 * await attack.leave()
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { ActorRef, ActorSystem } from '@helios/actors'
import {
  Codec,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  DisassociateReason,
  encodePreamble,
  FRAGMENT_HEADER_MAX,
  Lane,
  MAX_COMPRESSED_VALUE_BYTES,
  MAX_COMPRESSION_ENTRIES,
  type Pdu,
} from '@helios/codec'

// ------------------------------------------------------------------ targets and wire helpers

/** A live node to attack. */
export interface NodeTarget {
  /** Its advertised address, e.g. `helios.tcp://Victim@127.0.0.1:40123`. */
  readonly address: string
  /** `tcp`, `tls` or `udp` (the attacks write plaintext: over `tls` only {@link Tarpit}-style silence and raw connects make sense). */
  readonly transport: 'tcp' | 'tls' | 'udp'
  readonly host: string
  readonly port: number
  /** Its uid, when known (fuzzed PDUs then sometimes name it). */
  readonly uid?: bigint
}

/** The target of a node at `address` (`helios.<transport>://<system>@<host>:<port>`). */
export function nodeTarget(address: string, uid?: bigint): NodeTarget {
  const m = /^helios\.(tcp|tls|udp):\/\/[^@/]+@(.+):(\d+)$/.exec(address)
  if (m === null) throw new Error(`not a tcp, tls or udp node address: ${address}`)
  const host = (m[2] as string).replace(/^\[(.*)\]$/, '$1')
  return { address, transport: m[1] as NodeTarget['transport'], host, port: Number(m[3]), ...(uid !== undefined ? { uid } : {}) }
}

/** Encoder of the attacks' PDUs (frames up to 16 MiB: the target decides what it accepts). */
const codec = new Codec({ maxFrameSize: 16 * 2 ** 20, maxMessageSize: 64 * 2 ** 20 })

/** One frame as on the wire (docs/PROTOCOL.md §3): u32 big-endian length, then the payload. */
export function framed(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.byteLength)
  out.writeUInt32BE(payload.byteLength, 0)
  out.set(payload, 4)
  return out
}

/** The u32 length field of a frame of `length` payload bytes. */
function lengthField(length: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(length >>> 0, 0)
  return b
}

/** A non-negative integer as the shortest msgpack uint. */
export function msgpackUint(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  if (n < 0x100) return Buffer.from([0xcc, n])
  if (n < 0x10000) return Buffer.from([0xcd, n >>> 8, n & 0xff])
  if (n <= 0xffffffff) {
    const b = Buffer.allocUnsafe(5)
    b[0] = 0xce
    b.writeUInt32BE(n, 1)
    return b
  }
  const b = Buffer.allocUnsafe(9)
  b[0] = 0xcf
  b.writeBigUInt64BE(BigInt(n), 1)
  return b
}

/**
 * The bytes of one fragment frame (docs/PROTOCOL.md §4.8), as pieces to write in order (the chunk is
 * not copied): length field, `20 messageId totalLength offset`, chunk.
 */
export function fragmentFrame(messageId: number, totalLength: number, offset: number, chunk: Uint8Array): Buffer[] {
  const header = Buffer.concat([Buffer.from([0x20]), msgpackUint(messageId), msgpackUint(totalLength), msgpackUint(offset)])
  return [lengthField(header.length + chunk.byteLength), header, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)]
}

/** A random 64-bit uid or nonce (never 0). */
export function randomUid(): bigint {
  for (;;) {
    const n = randomBytes(8).readBigUInt64BE(0)
    if (n !== 0n) return n
  }
}

/** The payload of a handshake request from `from` (address and uid) to `to`. */
export function handshakeRequest(from: string, uid: bigint, to: string, nonce: bigint = randomUid()): Uint8Array {
  return codec.encode({ type: 'handshake-request', from: { address: from, uid }, to, nonce, session: 1, toSession: 0 })
}

/** Encodes one PDU (no compression, no fragmentation). */
export function encodePdu(pdu: Pdu): Uint8Array {
  return codec.encode(pdu)
}

/** An address of the target's transport for system `system` at `host:port`. */
function addressAt(target: NodeTarget, system: string, host: string, port: number): string {
  return `helios.${target.transport === 'udp' ? 'udp' : target.transport}://${system}@${host}:${port}`
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ------------------------------------------------------------------ raw tcp connections

/**
 * One plaintext connection to a node, as a peer opens it: the 8-byte preamble of `lane`, then frames.
 * Writes wait for the socket to drain (bounded memory on the attacker's side too); what the node
 * writes back is read and counted (its preamble and frames, e.g. a refusal), never buffered.
 */
export class RawConnection {
  /** Bytes written (preamble, length fields and payloads). */
  bytesSent = 0
  /** Frames written. */
  framesSent = 0
  /** Bytes the node wrote back. */
  bytesReceived = 0
  /** True once the socket closed (either side). */
  closed = false
  /** Resolves when the socket closed. */
  readonly whenClosed: Promise<void>

  private constructor(readonly socket: Socket) {
    this.whenClosed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true
        resolve()
      }),
    )
    socket.on('data', (d: Buffer) => {
      this.bytesReceived += d.length
    })
    socket.on('error', () => {})
  }

  /**
   * Connects to `target` and writes the preamble of `lane` (and with `hello`, a handshake request:
   * the first frame every peer writes). Rejects when the connect fails.
   */
  static async open(
    target: NodeTarget,
    lane: 'user' | 'control',
    hello?: { readonly from: string; readonly uid: bigint; readonly nonce?: bigint },
    localAddress?: string,
  ): Promise<RawConnection> {
    const socket = connect({ host: target.host, port: target.port, noDelay: true, ...(localAddress !== undefined ? { localAddress } : {}) })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const c = new RawConnection(socket)
    const first = [encodePreamble(lane === 'user' ? Lane.user : Lane.control)]
    if (hello !== undefined) first.push(framed(handshakeRequest(hello.from, hello.uid, target.address, hello.nonce)))
    await c.writeRaw(Buffer.concat(first))
    return c
  }

  /** Writes bytes as they are; resolves false once the connection is closed. */
  async writeRaw(...pieces: Uint8Array[]): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return false
    let ok = true
    for (const p of pieces) {
      this.bytesSent += p.byteLength
      ok = this.socket.write(p)
    }
    if (!ok) await this.drained()
    return !this.closed
  }

  /** Writes each payload as a frame; resolves false once the connection is closed. */
  async send(...payloads: Uint8Array[]): Promise<boolean> {
    this.framesSent += payloads.length
    return this.writeRaw(...payloads.map(framed))
  }

  /** Writes one fragment frame (its chunk not copied). */
  async sendFragment(messageId: number, totalLength: number, offset: number, chunk: Uint8Array): Promise<boolean> {
    this.framesSent++
    return this.writeRaw(...fragmentFrame(messageId, totalLength, offset, chunk))
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.once('drain', done)
      this.socket.once('close', done)
    })
  }

  /** Closes the connection at once (no more bytes). */
  destroy(): void {
    this.socket.destroy()
  }
}

// ------------------------------------------------------------------ where the node dials

/**
 * A tcp listener standing for a host the node dials: a spoofed identity's address, or a third
 * party. It counts the connections and bytes it gets. Silent by default (accepts, reads, never
 * answers: the node waits for its handshake timeout); identities registered with {@link answerAs}
 * get what a real peer would write back on the node's connection to that address: its preamble and
 * a handshake response echoing the node's nonce (the node then counts the identity as
 * established), and heartbeat replies.
 */
export class ListenerSink {
  /** Connections accepted so far. */
  connections = 0
  /** Bytes received so far. */
  bytes = 0
  private readonly sockets = new Set<Socket>()
  private readonly identities = new Map<string, { uid: bigint; answered: () => void; done: Promise<void> }>()

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Listens on `host` (default 127.0.0.1) at a free port. */
  static async start(host = '127.0.0.1'): Promise<ListenerSink> {
    let sink!: ListenerSink
    const server = createServer({ noDelay: true }, (s) => sink.accepted(s))
    server.maxConnections = 100_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port: 0, backlog: 4096 }, resolve)
    })
    sink = new ListenerSink(server, host, (server.address() as { port: number }).port)
    return sink
  }

  /** Connections open right now. */
  get open(): number {
    return this.sockets.size
  }

  /**
   * Answers the node's handshake requests to `address` as the incarnation `uid` would; resolves once
   * it answered one (the node's dial-back reached it and got its response).
   */
  answerAs(address: string, uid: bigint): Promise<void> {
    let answered!: () => void
    const done = new Promise<void>((r) => {
      answered = r
    })
    this.identities.set(address, { uid, answered, done })
    return done
  }

  private accepted(s: Socket): void {
    this.connections++
    this.sockets.add(s)
    s.on('close', () => this.sockets.delete(s))
    s.on('error', () => {})
    let pending: Buffer = Buffer.alloc(0)
    let preamble: Buffer | undefined
    let who: { address: string; uid: bigint } | undefined
    s.on('data', (d: Buffer) => {
      this.bytes += d.length
      if (this.identities.size === 0) return // silent: count only
      pending = pending.length === 0 ? d : Buffer.concat([pending, d])
      if (preamble === undefined) {
        if (pending.length < 8) return
        preamble = pending.subarray(0, 8)
        pending = pending.subarray(8)
      }
      while (pending.length >= 4) {
        const len = pending.readUInt32BE(0)
        if (len > 1 << 20) {
          s.destroy() // not what a node writes: stop reading it
          return
        }
        if (pending.length < 4 + len) break
        const payload = pending.subarray(4, 4 + len)
        pending = pending.subarray(4 + len)
        let pdu: Pdu
        try {
          pdu = codec.decode(payload)
        } catch {
          continue
        }
        if (pdu.type === 'handshake-request') {
          const id = this.identities.get(pdu.to)
          if (id === undefined) continue
          who = { address: pdu.to, uid: id.uid }
          const response = codec.encode({
            type: 'handshake-response',
            from: { address: pdu.to, uid: id.uid },
            to: pdu.from.address,
            nonce: pdu.nonce,
            session: 1,
            toSession: 0,
          })
          s.write(Buffer.concat([preamble, framed(response)]))
          id.answered()
        } else if (pdu.type === 'heartbeat' && who !== undefined) {
          s.write(framed(codec.encode({ type: 'heartbeat-reply', uid: who.uid })))
        }
      }
    })
  }

  /** Closes the listener and every connection it accepted. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}

/** A udp socket standing for a host the node sends to (a third party): counts datagrams and bytes. */
export class UdpSink {
  datagrams = 0
  bytes = 0

  private constructor(
    private readonly socket: UdpSocket,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Binds `host` (default 127.0.0.1) at a free port. */
  static async start(host = '127.0.0.1'): Promise<UdpSink> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, host, () => resolve())
    })
    const sink = new UdpSink(socket, host, socket.address().port)
    socket.on('message', (m) => {
      sink.datagrams++
      sink.bytes += m.length
    })
    return sink
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.socket.close(() => r()))
  }
}

const tarpits = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of tarpits) p.kill('SIGKILL')
})

/**
 * A host that never answers a connect (as a powered-off or firewalled host does), on loopback: a
 * listener in a child process with a backlog of 1 whose accept queue is filled and which is then
 * stopped (SIGSTOP), so the kernel drops every further SYN and the connecting side stays in
 * SYN-SENT until its own connect timeout. No firewall rule, nothing global.
 */
export class Tarpit {
  private constructor(
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess,
    private readonly fillers: Socket[],
    readonly host: string,
    readonly port: number,
  ) {}

  /** Starts one on 127.0.0.1. */
  static async start(): Promise<Tarpit> {
    const script =
      "const s=require('net').createServer(()=>{});s.listen({host:'127.0.0.1',port:0,backlog:1},()=>{process.stdout.write(s.address().port+'\\n',()=>process.kill(process.pid,'SIGSTOP'))})"
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    tarpits.add(child)
    child.once('exit', () => tarpits.delete(child))
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
    const port = Number(line.toString().trim())
    if (!Number.isInteger(port) || port <= 0) throw new Error(`tarpit did not start: ${line.toString()}`)
    // Fill the accept queue (backlog + 1 connections complete; the kernel drops SYNs beyond it).
    const fillers: Socket[] = []
    for (let i = 0; i < 3; i++) {
      const s = connect({ host: '127.0.0.1', port })
      s.on('error', () => {})
      fillers.push(s)
    }
    await sleep(100)
    // A stopped process cannot notice that this one died (even by SIGKILL): a shell watches for it.
    const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`], {
      stdio: 'ignore',
      detached: true,
    })
    watchdog.unref()
    return new Tarpit(child, watchdog, fillers, '127.0.0.1', port)
  }

  async close(): Promise<void> {
    for (const s of this.fillers) s.destroy()
    this.watchdog.kill('SIGKILL')
    this.child.kill('SIGKILL')
    if (this.child.exitCode === null && this.child.signalCode === null) await once(this.child, 'exit')
  }
}

// ------------------------------------------------------------------ identities

/** A udp socket speaking for one identity: it answers the node's handshake requests and heartbeats itself. */
export class UdpIdentity {
  bytesSent = 0
  datagramsSent = 0
  /** Resolves once the node sent this identity a handshake request and got its response. */
  readonly answered: Promise<void>
  private markAnswered!: () => void

  private constructor(
    readonly socket: UdpSocket,
    readonly target: NodeTarget,
    readonly address: string,
    readonly uid: bigint,
    answer: boolean,
  ) {
    this.answered = new Promise((r) => {
      this.markAnswered = r
    })
    socket.on('message', (m) => {
      if (!answer) return
      for (let off = 0; off + 4 <= m.length; ) {
        const len = m.readUInt32BE(off)
        const payload = m.subarray(off + 4, off + 4 + len)
        off += 4 + len
        let pdu: Pdu
        try {
          pdu = codec.decode(payload)
        } catch {
          continue
        }
        if (pdu.type === 'handshake-request' && pdu.to === this.address) {
          this.sendFrames([
            codec.encode({
              type: 'handshake-response',
              from: { address: this.address, uid: this.uid },
              to: pdu.from.address,
              nonce: pdu.nonce,
              session: 1,
              toSession: 0,
            }),
          ])
          this.markAnswered()
        } else if (pdu.type === 'heartbeat') {
          this.sendFrames([codec.encode({ type: 'heartbeat-reply', uid: this.uid })])
        }
      }
    })
  }

  /** Binds a socket on `localAddress` (default 127.0.0.1); the identity's address names `answerAt` (default: the socket itself). */
  static async bind(
    target: NodeTarget,
    system: string,
    answer: boolean,
    answerAt?: { host: string; port: number },
    localAddress = '127.0.0.1',
  ): Promise<UdpIdentity> {
    const socket = createSocket({ type: 'udp4', sendBufferSize: 4 * 2 ** 20 })
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.bind(0, localAddress, () => resolve()))
    const at = answerAt ?? { host: localAddress, port: socket.address().port }
    return new UdpIdentity(socket, target, addressAt(target, system, at.host, at.port), randomUid(), answer)
  }

  /** Sends frames packed in one datagram (the caller keeps it within 65,507 bytes). */
  sendFrames(payloads: Uint8Array[]): Promise<void> {
    const pieces: Buffer[] = []
    for (const p of payloads) pieces.push(lengthField(p.byteLength), Buffer.from(p.buffer, p.byteOffset, p.byteLength))
    return this.sendDatagram(pieces)
  }

  /** Sends one datagram of `pieces`; resolves once the kernel took it. */
  sendDatagram(pieces: Buffer[]): Promise<void> {
    let n = 0
    for (const p of pieces) n += p.length
    this.bytesSent += n
    this.datagramsSent++
    return new Promise((resolve) => this.socket.send(pieces, this.target.port, this.target.host, () => resolve()))
  }

  hello(): Promise<void> {
    return this.sendFrames([handshakeRequest(this.address, this.uid, this.target.address)])
  }

  /**
   * Introduces itself again every 200 ms (as nodes resend their handshake over udp) until the
   * node's dial-back was answered or `ms` passed; resolves whether it was. Each request goes with a
   * harmless `ack` of system messages, as a live peer's traffic would: a node that sends a claimant
   * no more than the claimant sent it (amplification at most 1) then has the bytes for its own
   * request besides its response.
   */
  async introduce(ms: number): Promise<boolean> {
    let done = false
    void this.answered.then(() => {
      done = true
    })
    const padding = codec.encode({ type: 'ack', cumulative: 0, selective: Array.from({ length: 100 }, (_, i) => i + 1) })
    const until = performance.now() + ms
    while (!done && performance.now() < until) {
      await this.sendFrames([handshakeRequest(this.address, this.uid, this.target.address), padding])
      await Promise.race([this.answered, sleep(200)])
    }
    return done
  }

  close(): void {
    try {
      this.socket.close()
    } catch {
      /* closed */
    }
  }
}

/** Options shared by the identity attacks. */
export interface IdentityOptions {
  /** How many identities (default 24). */
  readonly identities?: number
  /** System names are `<prefix><i>` (default `Spoof`); give each attack on one node its own prefix. */
  readonly prefix?: string
  /**
   * Answer the node's dial-back so that each identity is established (default false: the node keeps
   * it handshaking until its handshake timeout, dialling a silent listener meanwhile).
   */
  readonly establish?: boolean
  /** How long to wait for the node's dial-backs to be answered when `establish` (default 10 s). */
  readonly establishTimeoutMs?: number
  /** Source address of the attack's tcp connections and udp sockets (e.g. 127.0.0.2). Default the system's choice. */
  readonly localAddress?: string
}

/** A running identity attack. */
export interface IdentityAttack {
  /** The identities' addresses. */
  readonly identities: readonly string[]
  /** Identities whose dial-back was answered (established), when `establish`. */
  readonly established: number
  /** Bytes (tcp: preamble, length fields and payloads; udp: datagrams) and frames sent, over all identities. */
  readonly bytesSent: number
  readonly framesSent: number
  /** Connections the node closed while the attack wrote (refusals). */
  readonly closedByNode: number
  /**
   * The attackers leave: with `notify` (default true), each identity first tells the node it shuts
   * down (a `disassociate` with reason shutdown: an established identity is then quarantined, as a
   * peer that terminated), then every connection, socket and listener closes.
   */
  leave(options?: { readonly notify?: boolean }): Promise<void>
}

interface Identity {
  readonly address: string
  readonly uid: bigint
  /** Sends frames on the identity's connection (tcp) or socket (udp); false when the node closed it. */
  send(payloads: Uint8Array[]): Promise<boolean>
  sendFragment(messageId: number, totalLength: number, offset: number, chunk: Uint8Array): Promise<boolean>
  readonly bytesSent: number
  readonly framesSent: number
  readonly closed: boolean
  close(): void
}

/** Opens `count` identities on `lane` (tcp) or their own sockets (udp), established when asked. */
async function openIdentities(
  target: NodeTarget,
  lane: 'user' | 'control',
  o: IdentityOptions,
): Promise<{ ids: Identity[]; established: number; close: () => Promise<void> }> {
  const count = o.identities ?? 24
  const prefix = o.prefix ?? 'Spoof'
  const establish = o.establish === true
  const ids: Identity[] = []
  const answered: Promise<void>[] = []
  if (target.transport === 'udp') {
    const silent = establish ? undefined : await UdpSink.start()
    for (let i = 0; i < count; i++) {
      const id = await UdpIdentity.bind(target, `${prefix}${i}`, establish, silent, o.localAddress)
      await id.hello()
      if (establish) answered.push(id.introduce(o.establishTimeoutMs ?? 10_000).then(() => id.answered))
      ids.push({
        address: id.address,
        uid: id.uid,
        send: async (payloads) => {
          await id.sendFrames(payloads)
          return true
        },
        sendFragment: async (messageId, totalLength, offset, chunk) => {
          await id.sendDatagram(fragmentFrame(messageId, totalLength, offset, chunk))
          return true
        },
        get bytesSent() {
          return id.bytesSent
        },
        get framesSent() {
          return id.datagramsSent
        },
        closed: false,
        close: () => id.close(),
      })
    }
    const established = establish ? await settled(answered, o.establishTimeoutMs ?? 10_000) : 0
    return { ids, established, close: async () => silent?.close() }
  }
  const listener = await ListenerSink.start()
  for (let i = 0; i < count; i++) {
    const address = addressAt(target, `${prefix}${i}`, listener.host, listener.port)
    const uid = randomUid()
    if (establish) answered.push(listener.answerAs(address, uid))
    // An established identity parks on its control connection; a user-lane one needs it too (the
    // node answers on the connection the identity opened).
    const c = await RawConnection.open(target, lane, { from: address, uid }, o.localAddress)
    ids.push({
      address,
      uid,
      send: (payloads) => c.send(...payloads),
      sendFragment: (messageId, totalLength, offset, chunk) => c.sendFragment(messageId, totalLength, offset, chunk),
      get bytesSent() {
        return c.bytesSent
      },
      get framesSent() {
        return c.framesSent
      },
      get closed() {
        return c.closed
      },
      close: () => c.destroy(),
    })
  }
  const established = establish ? await settled(answered, o.establishTimeoutMs ?? 10_000) : 0
  return { ids, established, close: () => listener.close() }
}

/** How many of `promises` resolved within `ms`. */
async function settled(promises: Promise<void>[], ms: number): Promise<number> {
  let n = 0
  await Promise.race([Promise.all(promises.map((p) => p.then(() => n++))), sleep(ms)])
  // give the node a moment to read the responses that were just written
  await sleep(50)
  return n
}

function attackOf(ids: Identity[], established: number, closeRest: () => Promise<void>): IdentityAttack {
  return {
    identities: ids.map((i) => i.address),
    established,
    get bytesSent() {
      return ids.reduce((s, i) => s + i.bytesSent, 0)
    },
    get framesSent() {
      return ids.reduce((s, i) => s + i.framesSent, 0)
    },
    get closedByNode() {
      return ids.filter((i) => i.closed).length
    },
    async leave(options = {}) {
      if (options.notify !== false) {
        const bye = codec.encode({ type: 'disassociate', reason: DisassociateReason.shutdown, detail: 'actor system terminated' })
        await Promise.all(ids.map((i) => (i.closed ? undefined : i.send([bye]))))
        await sleep(100)
      }
      for (const i of ids) i.close()
      await closeRest()
    },
  }
}

/** Options of {@link parkFragments}. */
export interface ParkFragmentsOptions extends IdentityOptions {
  /** The lane (tcp) whose connection carries the fragments (default `user`; udp has one socket). */
  readonly lane?: 'user' | 'control'
  /** The node's max frame size (default 256 KiB over tcp, 60 KiB over udp): fragments are as large as it accepts. */
  readonly maxFrameSize?: number
  /** The node's max message size (default 16 MiB): each message declares this total and never completes. */
  readonly maxMessageSize?: number
  /** Incomplete messages per identity (default 8, what a node keeps per association). */
  readonly messagesPerIdentity?: number
  /** Bytes parked per identity (default 2 x maxMessageSize, what a node buffers per association), spread over the messages. */
  readonly bytesPerIdentity?: number
  /** Udp only: send rate cap in bytes/s, so that the node's socket buffer does not overflow (default 100 MB/s). */
  readonly udpBytesPerSecond?: number
}

/**
 * Spoofed identities, each parking incomplete fragmented messages: every identity handshakes (from a
 * made-up address, or established with `establish`), then sends the first fragments of
 * `messagesPerIdentity` messages that each declare `maxMessageSize` bytes, up to `bytesPerIdentity`
 * in all, and never their last fragment. A node bounds this per association (docs/PROTOCOL.md §7);
 * what it holds across identities is what the test or benchmark measures. The identities stay
 * connected until {@link IdentityAttack.leave}.
 */
export async function parkFragments(target: NodeTarget, o: ParkFragmentsOptions = {}): Promise<IdentityAttack> {
  const udp = target.transport === 'udp'
  const maxFrame = o.maxFrameSize ?? (udp ? 60 * 1024 : DEFAULT_MAX_FRAME_SIZE)
  const maxMessage = o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  const messages = o.messagesPerIdentity ?? 8
  const perIdentity = o.bytesPerIdentity ?? 2 * maxMessage
  // each message stays incomplete: at most its total less one chunk
  const chunkSize = maxFrame - FRAGMENT_HEADER_MAX
  const perMessage = Math.min(Math.floor(perIdentity / messages), maxMessage - 1)
  const chunk = Buffer.alloc(chunkSize, 0x5a)
  const { ids, established, close } = await openIdentities(target, o.lane ?? 'user', o)
  const rate = o.udpBytesPerSecond ?? 100e6
  const started = performance.now()
  let sentUdp = 0
  for (const id of ids) {
    for (let m = 0; m < messages; m++) {
      for (let offset = 0; offset < perMessage; offset += chunkSize) {
        const len = Math.min(chunkSize, perMessage - offset)
        if (!(await id.sendFragment(m, maxMessage, offset, len === chunkSize ? chunk : chunk.subarray(0, len)))) break
        if (udp) {
          sentUdp += len
          const ahead = sentUdp / rate - (performance.now() - started) / 1000
          if (ahead > 0.002) await sleep(ahead * 1000)
        }
      }
      if (id.closed) break
    }
  }
  return attackOf(ids, established, close)
}

/** Options of {@link fillCompression}. */
export interface FillCompressionOptions extends IdentityOptions {
  /** Entries per table (default 4096, the protocol's maximum). */
  readonly entries?: number
  /** Bytes per value (default 1024, the protocol's maximum). */
  readonly valueBytes?: number
  /** The node's max frame size (default 256 KiB over tcp, 60 KiB over udp): advertisements are split to fit. */
  readonly maxFrameSize?: number
  /**
   * Compression generations filled, 0, 1, ... (default 2: what a receiver of protocol 4 holds at
   * most; a node of protocol 3 refuses the second generation's entries as conflicting).
   */
  readonly generations?: number
}

/**
 * Identities each filling both compression tables the node keeps for it (actor paths and manifests)
 * with `entries` distinct values of `valueBytes`, in advertisements on the control lane
 * (docs/PROTOCOL.md §4.9, §5), in each of `generations` generations. Established by default (`establish` true), so that after
 * {@link IdentityAttack.leave} the node holds a quarantined association per identity.
 */
export async function fillCompression(target: NodeTarget, o: FillCompressionOptions = {}): Promise<IdentityAttack> {
  const entries = Math.min(o.entries ?? MAX_COMPRESSION_ENTRIES, MAX_COMPRESSION_ENTRIES)
  const valueBytes = Math.min(o.valueBytes ?? MAX_COMPRESSED_VALUE_BYTES, MAX_COMPRESSED_VALUE_BYTES)
  const maxFrame = o.maxFrameSize ?? (target.transport === 'udp' ? 60 * 1024 : DEFAULT_MAX_FRAME_SIZE)
  const perFrame = Math.max(1, Math.floor((maxFrame - 64) / (valueBytes + 8)))
  const { ids, established, close } = await openIdentities(target, 'control', { ...o, establish: o.establish ?? true })
  const pad = 'x'.repeat(valueBytes)
  const generations = o.generations ?? 2
  for (const id of ids) {
    let version = 1
    for (let generation = 0; generation < generations && !id.closed; generation++) {
      for (const table of ['actor-ref', 'manifest'] as const) {
        for (let from = 0; from < entries && !id.closed; from += perFrame) {
          const list: [number, string][] = []
          for (let index = from; index < Math.min(entries, from + perFrame); index++) {
            const head = `${id.address}/user/${table}-${generation}-${index}/`
            list.push([index, (head + pad).slice(0, valueBytes)])
          }
          const ad = { type: 'compression-advertisement', originUid: id.uid, table, version: version++, entries: list }
          // the generation field exists from protocol 4 on (an older codec leaves it out)
          await id.send([codec.encode((generation > 0 ? { ...ad, generation } : ad) as Pdu)])
        }
      }
    }
  }
  return attackOf(ids, established, close)
}

/** Options of {@link strangerEnvelopes}. */
export interface StrangerEnvelopesOptions {
  /** Envelopes to send (default 2,000). */
  readonly count?: number
  /**
   * The sender path of envelope `k`, naming a node the target does not know, e.g.
   * `` k => `helios.tcp://Ghost${k}@127.0.0.1:${tarpit.port}/user/x` ``.
   */
  readonly sender: (k: number) => string
  /** The recipient path (default the target's `/user/sink`; an actor that does not reply is what matters). */
  readonly recipient?: string
  /** The message (default the string `"hi"`). */
  readonly message?: unknown
  /** System name of the identity that sends them (default `Stranger`). */
  readonly system?: string
  /** Udp only: envelopes per datagram (default 1). */
  readonly perDatagram?: number
  /** Udp only: pause between datagrams (default 0: as fast as the socket takes them). */
  readonly udpGapMs?: number
  /** Source address of the connection or socket (e.g. 127.0.0.2). */
  readonly localAddress?: string
}

/** What {@link strangerEnvelopes} did. */
export interface StrangerEnvelopes {
  /** Envelopes sent. */
  readonly sent: number
  /** Bytes the attacker sent in all (frames with their length fields, the handshake included). */
  readonly bytesSent: number
  /** Closes the attacker's connection or socket and its listener. */
  close(): Promise<void>
}

/**
 * User envelopes whose sender path names a node the target does not know (a host:port of nothing,
 * or of a third party): a node that dials whatever a sender path names can be made to open sockets
 * at will, or (udp) to send a third party more than the attacker sent it. The envelopes come from
 * one spoofed identity (handshaking, its address a silent listener of the attacker's).
 */
export async function strangerEnvelopes(target: NodeTarget, o: StrangerEnvelopesOptions): Promise<StrangerEnvelopes> {
  const count = o.count ?? 2000
  const system = o.system ?? 'Stranger'
  const recipient = o.recipient ?? `${target.address}/user/sink`
  const message = o.message ?? 'hi'
  const envelope = (k: number): Uint8Array => codec.encode({ type: 'user-envelope', seq: k + 1, recipient, sender: o.sender(k), message })
  if (target.transport === 'udp') {
    const silent = await UdpSink.start()
    const id = await UdpIdentity.bind(target, system, false, silent, o.localAddress)
    await id.hello()
    const per = o.perDatagram ?? 1
    for (let k = 0; k < count; k += per) {
      const frames: Uint8Array[] = []
      for (let j = k; j < Math.min(count, k + per); j++) frames.push(envelope(j))
      await id.sendFrames(frames)
      if (o.udpGapMs !== undefined && o.udpGapMs > 0) await sleep(o.udpGapMs)
    }
    return {
      sent: count,
      bytesSent: id.bytesSent,
      async close() {
        id.close()
        await silent.close()
      },
    }
  }
  const listener = await ListenerSink.start()
  const from = addressAt(target, system, listener.host, listener.port)
  const c = await RawConnection.open(target, 'user', { from, uid: randomUid() }, o.localAddress)
  let sent = 0
  for (let k = 0; k < count; k += 64) {
    const batch: Uint8Array[] = []
    for (let j = k; j < Math.min(count, k + 64); j++) batch.push(envelope(j))
    if (!(await c.send(...batch))) break
    sent += batch.length
  }
  return {
    sent,
    get bytesSent() {
      return c.bytesSent
    },
    async close() {
      c.destroy()
      await listener.close()
    },
  }
}

/** Options of {@link udpFlood}. */
export interface UdpFloodOptions {
  /** Frames to send, one per datagram (default 30,000). */
  readonly frames?: number
  /** Bytes of each message (default 1,024). */
  readonly messageBytes?: number
  /** The recipient (default the target's `/user/sink`). */
  readonly recipient?: string
  /** System name of the flooding peer (default `Flood`). */
  readonly system?: string
}

/** What {@link udpFlood} did. */
export interface UdpFlood {
  /** Whether the node established the flooding peer (its dial-back answered) before the flood. */
  readonly established: boolean
  readonly datagrams: number
  readonly bytesSent: number
  readonly elapsedMs: number
}

/**
 * A flood from one associated udp peer: it establishes itself (answers the node's handshake
 * request), then sends `frames` user envelopes, one datagram each, as fast as its socket takes them.
 */
export async function udpFlood(target: NodeTarget, o: UdpFloodOptions = {}): Promise<UdpFlood> {
  if (target.transport !== 'udp') throw new Error('udpFlood needs a udp node')
  const id = await UdpIdentity.bind(target, o.system ?? 'Flood', true)
  const established = await id.introduce(5000)
  await sleep(50) // the node reads the response
  const recipient = o.recipient ?? `${target.address}/user/sink`
  const body = 'f'.repeat(o.messageBytes ?? 1024)
  const n = o.frames ?? 30_000
  const started = performance.now()
  const before = id.bytesSent
  let inFlight: Promise<void>[] = []
  for (let k = 0; k < n; k++) {
    inFlight.push(id.sendFrames([codec.encode({ type: 'user-envelope', seq: k + 1, recipient, sender: undefined, message: body })]))
    if (inFlight.length >= 256) {
      await Promise.all(inFlight)
      inFlight = []
    }
  }
  await Promise.all(inFlight)
  const result = { established, datagrams: n, bytesSent: id.bytesSent - before, elapsedMs: performance.now() - started }
  id.close()
  return result
}

// ------------------------------------------------------------------ the legitimate association

/** What a legitimate association experienced: pings sent, answered, lost and late, round trips. */
export interface PingStats {
  readonly sent: number
  readonly answered: number
  /** Not answered within the timeout. */
  readonly lost: number
  /** Answered, but later than `lateMs`. */
  readonly late: number
  /** Round trips of the answered pings, ms (null before the first answer). */
  readonly p50Ms: number | null
  readonly p99Ms: number | null
  readonly maxMs: number | null
}

/** A running ping-pong (see {@link startPings}). */
export interface Pings {
  /** The figures so far (pings younger than the timeout count as neither answered nor lost). */
  snapshot(): PingStats
  /** Stops sending, waits for the pings in flight (up to the timeout), returns the final figures. */
  stop(): Promise<PingStats>
}

/**
 * A legitimate association's ping-pong: every `intervalMs` an actor of `system` sends `echo` (an
 * actor that answers every message to its sender) a numbered ping, and counts the answers. A ping
 * not answered within `timeoutMs` is lost.
 */
export function startPings(
  system: ActorSystem,
  echo: ActorRef,
  o: { readonly intervalMs?: number; readonly timeoutMs?: number; readonly lateMs?: number } = {},
): Pings {
  const intervalMs = o.intervalMs ?? 20
  const timeoutMs = o.timeoutMs ?? 5000
  const lateMs = o.lateMs ?? 1000
  const sentAt = new Map<number, number>()
  const rtts: number[] = []
  let sent = 0
  let lost = 0
  let late = 0
  const pinger = system.actorOf((m) => {
    const seq = (m as { ping?: unknown } | null)?.ping
    if (typeof seq !== 'number') return
    const at = sentAt.get(seq)
    if (at === undefined) return // answered after it was counted lost
    sentAt.delete(seq)
    const rtt = performance.now() - at
    rtts.push(rtt)
    if (rtt > lateMs) late++
  })
  const expire = (now: number): void => {
    for (const [seq, at] of sentAt) {
      if (now - at < timeoutMs) break // in send order
      sentAt.delete(seq)
      lost++
    }
  }
  const timer = setInterval(() => {
    const now = performance.now()
    expire(now)
    sent++
    sentAt.set(sent, now)
    echo.tell({ ping: sent }, pinger)
  }, intervalMs)
  const stats = (): PingStats => {
    const sorted = [...rtts].sort((a, b) => a - b)
    const q = (p: number): number | null =>
      sorted.length === 0 ? null : Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) * 100) / 100
    return { sent, answered: rtts.length, lost, late, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1) }
  }
  return {
    snapshot: () => {
      expire(performance.now())
      return stats()
    },
    async stop() {
      clearInterval(timer)
      const deadline = performance.now() + timeoutMs
      while (sentAt.size > 0 && performance.now() < deadline) await sleep(20)
      expire(Number.POSITIVE_INFINITY)
      system.stop(pinger)
      return stats()
    },
  }
}

// ------------------------------------------------------------------ fuzzing

/** A small seeded random generator (mulberry32): the same seed gives the same attack. */
export class Rng {
  private s: number

  constructor(seed: number) {
    this.s = seed >>> 0 || 1
  }

  /** A number in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }
}

/**
 * What the fuzzer sends, by the kind of the frame it started from: the preamble, every PDU of
 * docs/PROTOCOL.md §4 (packages/codec/src/Pdu.ts; `generation-envelope` is the user or system
 * envelope of a later compression generation, tags `15`/`16`), messages of hostile msgpack (§6:
 * nesting, `__proto__` keys, every extension type, declared lengths of 4 GiB, oversized bigints), and
 * random bytes.
 */
export const FUZZ_KINDS = [
  'preamble',
  'handshake-request',
  'handshake-response',
  'heartbeat',
  'heartbeat-reply',
  'disassociate',
  'quarantined',
  'user-envelope',
  'system-envelope',
  'generation-envelope',
  'ack',
  'nack',
  'user-ack',
  'fragment',
  'compression-advertisement',
  'compression-ack',
  'hostile-value',
  'random',
] as const
/** One of {@link FUZZ_KINDS}. */
export type FuzzKind = (typeof FUZZ_KINDS)[number]

const FRAME_KINDS = FUZZ_KINDS.filter((k) => k !== 'preamble')

/** Who a fuzzed frame claims to come from, and where it goes. */
interface FuzzContext {
  readonly target: NodeTarget
  /** The identity's address and uid (its dial-back is answered). */
  readonly from: string
  readonly uid: bigint
  /** Largest payload to produce (the node's max frame size). */
  readonly maxPayload: number
}

function msgpackStr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  const n = b.length
  const head =
    n < 32
      ? Buffer.from([0xa0 | n])
      : n < 0x100
        ? Buffer.from([0xd9, n])
        : n < 0x10000
          ? Buffer.from([0xda, n >>> 8, n & 0xff])
          : Buffer.from([0xdb, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
  return Buffer.concat([head, b])
}

/** The msgpack bytes of a value the codec writes. */
function valueBytes(v: unknown): Buffer {
  // an envelope `10 01 a1 72 c0 <value>`: the value is what follows the 5-byte header
  return Buffer.from(codec.encode({ type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: v }).subarray(5))
}

/**
 * An envelope (`10` user, `11` system; `15`, `16` the same in a later compression `generation`) with
 * a raw message value; recipient and sender as paths or compression indexes.
 */
function envelopeBytes(
  tag: 0x10 | 0x11 | 0x15 | 0x16,
  seq: number,
  recipient: string | number,
  sender: string | number | undefined,
  value: Buffer,
  generation = 1,
): Buffer {
  const field = (x: string | number | undefined): Buffer =>
    x === undefined ? Buffer.from([0xc0]) : typeof x === 'number' ? msgpackUint(x) : msgpackStr(x)
  const head = tag === 0x15 || tag === 0x16 ? [msgpackUint(seq), msgpackUint(generation)] : [msgpackUint(seq)]
  return Buffer.concat([Buffer.from([tag]), ...head, field(recipient), field(sender), value])
}

/** Values the codec writes: every type of docs/PROTOCOL.md §6, at small depth. */
function plainValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 9 : 14)) {
    case 0:
      return null
    case 1:
      return rng.chance(0.5)
    case 2:
      return rng.pick([
        0,
        -0,
        1,
        -1,
        127,
        128,
        255,
        65536,
        2 ** 32,
        -(2 ** 31),
        0.5,
        Number.MAX_SAFE_INTEGER,
        Number.NaN,
        Number.POSITIVE_INFINITY,
      ])
    case 3:
      return 'x'.repeat(rng.int(40))
    case 4:
      return rng.pick([0n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 200n, -(2n ** 100n)])
    case 5:
      return undefined
    case 6:
      return new Date(rng.pick([0, 1000, -1, 8.64e15, Number.NaN]))
    case 7:
      return rng.bytes(rng.int(64))
    case 8:
      return new Uint8Array(rng.bytes(rng.int(16)))
    case 9:
      return Array.from({ length: rng.int(5) }, () => plainValue(rng, depth + 1))
    case 10:
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, (_, i) => [rng.pick(['a', 'constructor', 'toString', `k${i}`]), plainValue(rng, depth + 1)]),
      )
    case 11:
      return new Map(Array.from({ length: rng.int(3) }, () => [plainValue(rng, depth + 1), plainValue(rng, depth + 1)]))
    case 12:
      return new Set(Array.from({ length: rng.int(3) }, () => plainValue(rng, depth + 1)))
    default:
      return { ping: rng.int(1000) }
  }
}

const PROTO_KEYS = [
  Buffer.from([0xa9, ...Buffer.from('__proto__')]),
  Buffer.from([0xd9, 9, ...Buffer.from('__proto__')]),
  Buffer.from([0xda, 0, 9, ...Buffer.from('__proto__')]),
  Buffer.from([0xdb, 0, 0, 0, 9, ...Buffer.from('__proto__')]),
]

/** Raw msgpack of a hostile message value (what a decoder must refuse or bound), within `max` bytes. */
function hostileValue(rng: Rng, max: number): Buffer {
  switch (rng.int(12)) {
    case 0: {
      // nesting far beyond the limit
      const depth = Math.min(max - 8, rng.pick([65, 200, 5_000, 200_000]))
      return Buffer.concat([Buffer.alloc(depth, rng.pick([0x91, 0xdc])), Buffer.from([0xc0])])
    }
    case 1: {
      // maps nested in maps
      const depth = Math.min(Math.floor((max - 8) / 3), rng.pick([65, 1000, 50_000]))
      const level = Buffer.from([0x81, 0xa1, 0x61])
      return Buffer.concat([...Array.from({ length: depth }, () => level), Buffer.from([0xc0])])
    }
    case 2:
      // __proto__ as a map key, in every str encoding, alone or inside a Map/object
      return Buffer.concat([
        Buffer.from(rng.pick([[0x81], [0xde, 0, 1], [0xdf, 0, 0, 0, 1]])),
        rng.pick(PROTO_KEYS),
        valueBytes({ polluted: true }),
      ])
    case 3: {
      // an extension of any type, any form
      const type = rng.int(256)
      const forms = [
        [0xd4, type, rng.int(256)],
        [0xd5, type, ...rng.bytes(2)],
        [0xd6, type, ...rng.bytes(4)],
        [0xd7, type, ...rng.bytes(8)],
        [0xd8, type, ...rng.bytes(16)],
        [0xc7, 3, type, ...rng.bytes(3)],
      ]
      return Buffer.from(rng.pick(forms))
    }
    case 4:
      // declared lengths of 4 GiB (str, bin, array, map, ext)
      return Buffer.from(
        rng.pick([
          [0xdb, 0xff, 0xff, 0xff, 0xff],
          [0xc6, 0xff, 0xff, 0xff, 0xff],
          [0xdd, 0xff, 0xff, 0xff, 0xff],
          [0xdf, 0xff, 0xff, 0xff, 0xff],
          [0xc9, 0xff, 0xff, 0xff, 0xff, 0x42],
        ]),
      )
    case 5: {
      // a bigint extension (type 0x42) of 8,192 bytes (the limit) or more
      const n = rng.pick([8192, 8193, 9000])
      if (n + 5 > max) return Buffer.from([0xc1])
      return Buffer.concat([Buffer.from([0xc9, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0x42]), rng.bytes(n)])
    }
    case 6:
      // the never-used token, invalid UTF-8, a truncated float
      return Buffer.from(rng.pick([[0xc1], [0xa4, 0xff, 0xfe, 0xfd, 0xc0], [0xcb, 1, 2], [0xa3, 0xed, 0xa0, 0x80]]))
    case 7: {
      // a registered-class tag with built-in manifests and wrong fields
      const manifest = rng.pick(['helios.Identify', 'helios.ActorIdentity', 'no.Such', ''])
      const fields = rng.pick([
        valueBytes([rng.int(100)]),
        valueBytes(['x']),
        valueBytes([]),
        valueBytes([-1, null, 7]),
        valueBytes({ id: 1 }),
      ])
      return Buffer.concat([Buffer.from([0xd4, 0x43, 0x00, 0x92]), msgpackStr(manifest), fields])
    }
    case 8:
      // an actor-ref tag with a malformed, foreign or compressed path
      return Buffer.concat([
        Buffer.from([0xd4, 0x52, 0x00]),
        rng.chance(0.3)
          ? msgpackUint(rng.int(5000))
          : msgpackStr(rng.pick(['', '/user/x', 'helios.tcp://', 'helios.tcp://A@h:1/user/a#x', 'akka://x@y:1/user/z'])),
      ])
    case 9:
      // Map and Set tags around the wrong shapes
      return Buffer.concat([
        Buffer.from(
          rng.pick([
            [0xd4, 0x4d, 0x00],
            [0xd4, 0x73, 0x00],
          ]),
        ),
        rng.pick([valueBytes([1]), valueBytes('x'), valueBytes([1, 2, 3]), Buffer.from([0xc0])]),
      ])
    case 10:
      // timestamps of every length, some wrong
      return Buffer.from(
        rng.pick([
          [0xd6, 0xff, 0, 0, 0, 1],
          [0xd7, 0xff, ...rng.bytes(8)],
          [0xc7, 12, 0xff, ...rng.bytes(12)],
          [0xc7, 5, 0xff, ...rng.bytes(5)],
          [0xd4, 0xff, 0xff],
        ]),
      )
    default:
      // a long array of small values
      return Buffer.concat([Buffer.from([0xdc, 0x10, 0x00]), Buffer.alloc(0x1000, 0x01)])
  }
}

/** A path on the target: its actors, other nodes, compressed indexes, malformed ones. */
function recipientOf(rng: Rng, ctx: FuzzContext): string | number {
  const a = ctx.target.address
  return rng.pick<string | number>([
    `${a}/user/echo`,
    `${a}/user/echo`,
    `${a}/user/nobody`,
    `${a}/system/x`,
    `${a}/temp/$a`,
    `${a}/deadLetters`,
    `${a}/user/echo#${rng.int(1e9)}`,
    `${ctx.from}/user/relay`,
    'helios.tcp://Z@127.0.0.1:1/user/z',
    '/user/echo',
    'not a path',
    '',
    rng.int(4096),
    rng.int(100),
  ])
}

/** A sender path: none, the identity's own (its dial-back answered), a compressed index, malformed. */
function senderOf(rng: Rng, ctx: FuzzContext): string | number | undefined {
  return rng.pick<string | number | undefined>([undefined, undefined, `${ctx.from}/user/f`, `${ctx.from}/temp/$b`, rng.int(4096), 'x', ''])
}

/** Valid payloads of one kind (a fragment series gives several). */
function validPayloads(kind: FuzzKind, ctx: FuzzContext, rng: Rng): Uint8Array[] {
  const t = ctx.target
  const victimUid = t.uid ?? randomUid()
  switch (kind) {
    case 'preamble':
    case 'handshake-request': {
      const port = t.port
      const name = /^helios\.[a-z]+:\/\/([^@]+)@/.exec(t.address)?.[1] ?? 'X'
      const from = rng.pick([
        ctx.from,
        ctx.from,
        ctx.from,
        t.address, // this node's own address
        `helios.${t.transport}://${name}@localhost:${port}`, // an alias of it
        `helios.${t.transport}://${name}@127.000.000.001:${port}`,
        `helios.${t.transport === 'udp' ? 'tcp' : 'udp'}://${name}@127.0.0.1:${port}`, // another transport
        'helios.tcp://no port@',
        '',
      ])
      const to = rng.chance(0.9) ? t.address : rng.pick([`${t.address}x`, 'helios.tcp://Other@127.0.0.1:1', ''])
      const uid = rng.chance(0.9) ? ctx.uid : randomUid()
      return [codec.encode({ type: 'handshake-request', from: { address: from, uid }, to, nonce: randomUid(), session: 1, toSession: 0 })]
    }
    case 'handshake-response':
      return [
        codec.encode({
          type: 'handshake-response',
          from: { address: ctx.from, uid: ctx.uid },
          to: t.address,
          nonce: randomUid(),
          session: 1,
          toSession: 0,
        }),
      ]
    case 'heartbeat':
      return [codec.encode({ type: 'heartbeat' })]
    case 'heartbeat-reply':
      return [codec.encode({ type: 'heartbeat-reply', uid: rng.chance(0.5) ? ctx.uid : randomUid() })]
    case 'disassociate':
      if (rng.chance(0.3))
        return [Buffer.concat([Buffer.from([0x05, 0x92]), msgpackUint(rng.int(256)), msgpackStr('x'.repeat(rng.int(300)))])]
      return [
        codec.encode({
          type: 'disassociate',
          reason: rng.pick([0, 1, 2, 3, 4, 5, 6] as const),
          detail: rng.pick(['', 'bye', 'x'.repeat(2000)]),
        }),
      ]
    case 'quarantined':
      return [
        codec.encode({
          type: 'quarantined',
          from: { address: rng.chance(0.8) ? ctx.from : t.address, uid: rng.chance(0.8) ? ctx.uid : randomUid() },
          to: { address: t.address, uid: rng.chance(0.5) ? victimUid : randomUid() },
        }),
      ]
    case 'user-envelope':
      return [
        envelopeBytes(
          0x10,
          1 + rng.int(rng.chance(0.1) ? 2 ** 31 : 1000),
          recipientOf(rng, ctx),
          senderOf(rng, ctx),
          valueBytes(plainValue(rng)),
        ),
      ]
    case 'system-envelope': {
      const message = rng.pick<unknown>([[1], [2], [3, 1], [3, 0], [9], 'watch', [], [1, 2, 3]])
      return [envelopeBytes(0x11, rng.int(rng.chance(0.2) ? 2 ** 40 : 10), recipientOf(rng, ctx), senderOf(rng, ctx), valueBytes(message))]
    }
    case 'generation-envelope':
      return [
        envelopeBytes(
          rng.pick([0x15, 0x16] as const),
          1 + rng.int(1000),
          recipientOf(rng, ctx),
          senderOf(rng, ctx),
          valueBytes(plainValue(rng)),
          rng.pick([0, 1, 2, 3, 1000, 2 ** 32]),
        ),
      ]
    case 'ack':
    case 'nack': {
      const cumulative = rng.pick([0, 1, rng.int(100), 2 ** 40, Number.MAX_SAFE_INTEGER])
      const list = Array.from({ length: rng.chance(0.05) ? 5000 : rng.int(20) }, () => rng.int(1000))
      return [codec.encode(kind === 'ack' ? { type: 'ack', cumulative, selective: list } : { type: 'nack', cumulative, missing: list })]
    }
    case 'user-ack':
      return [codec.encode({ type: 'user-ack', seq: rng.pick([0, 1, rng.int(1e6), Number.MAX_SAFE_INTEGER]) })]
    case 'fragment': {
      const messageId = rng.int(12)
      if (rng.chance(0.4)) {
        // a whole fragmented envelope, in order (or not)
        const body = envelopeBytes(0x10, 1 + rng.int(100), `${t.address}/user/echo`, undefined, valueBytes('y'.repeat(rng.int(3000))))
        const pieces = 2 + rng.int(4)
        const size = Math.ceil(body.length / pieces)
        const out: Uint8Array[] = []
        for (let off = 0; off < body.length; off += size)
          out.push(Buffer.concat(fragmentFrame(messageId, body.length, off, body.subarray(off, off + size)).slice(1)))
        if (rng.chance(0.2)) out.reverse()
        return out
      }
      const total = rng.pick([1, 100, 70_000, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE + 1, 2 ** 32, 2 ** 53 - 1])
      const chunk = rng.bytes(Math.min(ctx.maxPayload - 32, rng.pick([0, 1, 100, 4000])))
      const offset = rng.pick([0, 0, 1, rng.int(total), total])
      return [Buffer.concat(fragmentFrame(messageId, total, offset, chunk).slice(1))]
    }
    case 'compression-advertisement': {
      const entries: [number, string][] = Array.from({ length: 1 + rng.int(rng.chance(0.1) ? 60 : 8) }, () => [
        rng.chance(0.9) ? rng.int(64) : rng.pick([4095, 4096, 70_000]),
        rng.chance(0.9) ? `${t.address}/user/c${rng.int(100)}` : 'z'.repeat(rng.pick([0, 1024, 1025, 3000])),
      ])
      return [
        codec.encode({
          type: 'compression-advertisement',
          originUid: rng.chance(0.8) ? ctx.uid : randomUid(),
          table: rng.pick(['actor-ref', 'manifest'] as const),
          version: rng.int(1000),
          entries,
          // a later generation (protocol 4; an older codec leaves the field out)
          ...(rng.chance(0.3) ? { generation: rng.pick([1, 2, 3, 1000]) } : {}),
        } as Pdu),
      ]
    }
    case 'compression-ack':
      return [
        codec.encode({
          type: 'compression-ack',
          originUid: rng.chance(0.8) ? ctx.uid : randomUid(),
          table: rng.pick(['actor-ref', 'manifest'] as const),
          version: rng.int(1000),
          ...(rng.chance(0.3) ? { generation: rng.pick([1, 2, 1000]) } : {}),
        } as Pdu),
      ]
    case 'hostile-value':
      return [
        envelopeBytes(
          0x10,
          1 + rng.int(1000),
          rng.pick([`${t.address}/user/echo`, `${t.address}/user/nobody`]),
          undefined,
          hostileValue(rng, ctx.maxPayload - 128),
        ),
      ]
    case 'random':
      return [
        Buffer.concat([
          Buffer.from([rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x30, 0x31, 0x32, 0xff])]),
          rng.bytes(rng.int(300)),
        ]),
      ]
  }
}

const INTERESTING = [
  0x00, 0x01, 0x7f, 0x80, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xc9, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde,
  0xdf, 0xff,
]

/** One to three random mutations of `payload` (bit flips, bytes, boundary values, inserts, cuts, splices), within `max` bytes. */
export function mutate(payload: Uint8Array, rng: Rng, max: number): Buffer {
  let b = Buffer.from(payload)
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(b.length)
    switch (rng.int(10)) {
      case 0:
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << rng.int(8))
        break
      case 1:
        if (b.length > 0) b[at] = rng.int(256)
        break
      case 2:
        if (b.length > 0) b[at] = rng.pick(INTERESTING)
        break
      case 3:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(16)), b.subarray(at)])
        break
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(16)))])
        break
      case 5:
        b = b.subarray(0, at)
        break
      case 6:
        b = Buffer.concat([b, rng.bytes(1 + rng.int(64))])
        break
      case 7: {
        const len = 1 + rng.int(32)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)])
        break
      }
      case 8:
        if (b.length >= at + 4) b.writeUInt32BE(rng.pick([0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff]), at)
        break
      default:
        if (b.length > 0)
          b[0] = rng.pick([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x30, 0x31, rng.int(256)])
    }
  }
  return b.length > max ? b.subarray(0, max) : b
}

/** A frame of `payload`, its length field usually right, sometimes wrong (too long, too short, zero, 4 GiB). */
function fuzzFrame(payload: Uint8Array, rng: Rng, maxFrame: number): Buffer {
  const f = framed(payload)
  if (rng.chance(0.04)) f.writeUInt32BE(rng.pick([0, Math.max(0, payload.length - 1), payload.length + 1, maxFrame + 1, 0xffffffff]), 0)
  return f
}

/** What {@link fuzzNode} sent. */
export interface FuzzStats {
  readonly seed: number
  readonly transport: 'tcp' | 'udp'
  readonly elapsedMs: number
  /** Tcp connections opened. */
  connections: number
  /** Tcp connections the node closed before the fuzzer finished writing on them. */
  closedByNode: number
  /** Tcp connects that failed (by error code). */
  readonly connectErrors: Record<string, number>
  /** Udp datagrams sent. */
  datagrams: number
  /** Frames sent, and how many of them were mutated. */
  frames: number
  mutated: number
  bytes: number
  /** Frames by the kind they started from (the tcp preamble counted as `preamble`). */
  readonly byKind: Record<string, number>
}

/** Options of {@link fuzzNode}. */
export interface FuzzOptions {
  /** How long (default 5 s). */
  readonly seconds?: number
  /** Seed of the random choices (default random; it is in the result: the same seed replays the choices). */
  readonly seed?: number
  /** Tcp connections in flight at once (default 8). */
  readonly concurrency?: number
  /** Udp datagrams per second at most (default 2,000: a fuzz, not a flood). */
  readonly datagramsPerSecond?: number
  /** Identities the fuzzed frames claim (default 8); their dial-backs are answered, so most are established. */
  readonly identities?: number
  /** The node's max frame size (default 256 KiB over tcp, 60 KiB over udp). */
  readonly maxFrameSize?: number
  /** Source address of the tcp connections and udp sockets (e.g. 127.0.0.2). */
  readonly localAddress?: string
  /** Stops early when aborted. */
  readonly signal?: AbortSignal
}

/**
 * Fuzzes a live node for `seconds`: over tcp, connections that each write a preamble (usually
 * valid), a handshake request (usually valid, from one of a few identities whose dial-back is
 * answered) and up to 60 frames of every {@link FuzzKind}, most of them mutated, split at random
 * points, then close or wait; over udp, datagrams of such frames from a few sockets (each one
 * identity). Every byte is what a hostile peer may send: the node must refuse what is wrong, frame by
 * frame, without crashing and without harm to its other associations.
 */
export async function fuzzNode(target: NodeTarget, o: FuzzOptions = {}): Promise<FuzzStats> {
  const seed = o.seed ?? randomBytes(4).readUInt32BE(0)
  const rng = new Rng(seed)
  const udp = target.transport === 'udp'
  const maxFrame = o.maxFrameSize ?? (udp ? 60 * 1024 : DEFAULT_MAX_FRAME_SIZE)
  const until = performance.now() + (o.seconds ?? 5) * 1000
  const started = performance.now()
  const stats: FuzzStats = {
    seed,
    transport: udp ? 'udp' : 'tcp',
    elapsedMs: 0,
    connections: 0,
    closedByNode: 0,
    connectErrors: {},
    datagrams: 0,
    frames: 0,
    mutated: 0,
    bytes: 0,
    byKind: Object.fromEntries(FUZZ_KINDS.map((k) => [k, 0])),
  }
  const done = (): boolean => performance.now() >= until || o.signal?.aborted === true
  const count = (kind: FuzzKind, n: number, mutated: boolean): void => {
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + n
    stats.frames += n
    if (mutated) stats.mutated += n
  }
  /** The frames of one kind, mutated with probability `p`. */
  const framesOf = (kind: FuzzKind, ctx: FuzzContext, p: number): Buffer[] => {
    const mutated = rng.chance(p)
    const payloads = validPayloads(kind, ctx, rng).map((x) => (mutated ? mutate(x, rng, maxFrame) : x))
    count(kind, payloads.length, mutated)
    return payloads.map((x) => fuzzFrame(x, rng, maxFrame))
  }
  const n = o.identities ?? 8
  if (udp) {
    const ids: UdpIdentity[] = []
    for (let i = 0; i < n; i++) ids.push(await UdpIdentity.bind(target, `FuzzU${i}`, true, undefined, o.localAddress))
    // a few sockets that never introduce themselves (unknown sources)
    const strangers: UdpIdentity[] = []
    for (let i = 0; i < 2; i++) strangers.push(await UdpIdentity.bind(target, `FuzzS${i}`, false, undefined, o.localAddress))
    const gapMs = 1000 / (o.datagramsPerSecond ?? 2000)
    let next = performance.now()
    try {
      while (!done()) {
        const id = rng.chance(0.9) ? rng.pick(ids) : rng.pick(strangers)
        const ctx: FuzzContext = { target, from: id.address, uid: id.uid, maxPayload: maxFrame }
        let datagram: Buffer
        if (rng.chance(0.08)) {
          datagram = rng.bytes(rng.int(2000))
          count('random', 1, true)
        } else {
          const parts: Buffer[] = []
          if (rng.chance(0.15)) parts.push(...framesOf('handshake-request', ctx, 0.2))
          for (let k = 1 + rng.int(6); k > 0; k--) parts.push(...framesOf(rng.pick(FRAME_KINDS), ctx, 0.6))
          datagram = Buffer.concat(parts)
          if (datagram.length > 65_000) datagram = datagram.subarray(0, 65_000)
        }
        await id.sendDatagram([datagram])
        stats.datagrams++
        stats.bytes += datagram.length
        next += gapMs
        const wait = next - performance.now()
        if (wait > 1) await sleep(wait)
        else if (stats.datagrams % 64 === 0) await new Promise((r) => setImmediate(r))
      }
    } finally {
      await sleep(100)
      for (const s of [...ids, ...strangers]) s.close()
    }
    return { ...stats, elapsedMs: Math.round(performance.now() - started) }
  }
  const listener = await ListenerSink.start()
  const identities = Array.from({ length: n }, (_, i) => {
    const address = addressAt(target, `Fuzz${i}`, listener.host, listener.port)
    const uid = randomUid()
    void listener.answerAs(address, uid)
    return { address, uid }
  })
  const oneConnection = async (): Promise<void> => {
    const id = rng.pick(identities)
    const ctx: FuzzContext = { target, from: id.address, uid: id.uid, maxPayload: maxFrame }
    const parts: Buffer[] = []
    const lane = rng.chance(0.5) ? Lane.user : Lane.control
    if (rng.chance(0.9)) parts.push(Buffer.from(encodePreamble(lane)))
    else {
      count('preamble', 1, true)
      parts.push(
        rng.pick([
          mutate(encodePreamble(lane), rng, 16),
          Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]),
          Buffer.from('GET / HTTP/1.1\r\n\r\n'),
          Buffer.from([0x48, 0x45, 0x4c, 0x49, 0x4f, 0x53, rng.pick([0, 1, 2, 4, 0xff]), lane]),
          Buffer.from([0x48, 0x45, 0x4c, 0x49, 0x4f, 0x53, 3, 2 + rng.int(254)]),
        ]),
      )
    }
    if (rng.chance(0.85)) parts.push(...framesOf('handshake-request', ctx, 0.1))
    for (let k = 1 + rng.int(rng.chance(0.2) ? 60 : 12); k > 0; k--) parts.push(...framesOf(rng.pick(FRAME_KINDS), ctx, 0.6))
    if (rng.chance(0.1)) parts.push(rng.bytes(rng.int(64)))
    const bytes = Buffer.concat(parts)
    const socket = connect({
      host: target.host,
      port: target.port,
      ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
    })
    let finished = false
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        if (!finished) stats.closedByNode++
        resolve()
      }),
    )
    socket.on('data', () => {})
    const connected = await new Promise<boolean>((resolve) => {
      let up = false
      socket.once('connect', () => {
        up = true
        resolve(true)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (up) return
        stats.connectErrors[err.code ?? err.message] = (stats.connectErrors[err.code ?? err.message] ?? 0) + 1
        resolve(false)
      })
    })
    socket.on('error', () => {})
    if (!connected) {
      finished = true
      socket.destroy()
      return
    }
    stats.connections++
    stats.bytes += bytes.length
    // written in one to four pieces, cut anywhere
    const cuts = Array.from({ length: rng.int(4) }, () => rng.int(bytes.length)).sort((a, b) => a - b)
    let from = 0
    for (const cut of [...cuts, bytes.length]) {
      if (socket.destroyed) break
      if (!socket.write(bytes.subarray(from, cut))) await Promise.race([new Promise((r) => socket.once('drain', r)), closed])
      from = cut
      if (cuts.length > 0) await new Promise((r) => setImmediate(r))
    }
    const ending = rng.int(10)
    if (ending < 2) await Promise.race([sleep(rng.int(150)), closed])
    finished = true
    if (ending < 7) socket.end()
    else socket.destroy()
    await Promise.race([closed, sleep(2000)])
    socket.destroy()
  }
  try {
    await Promise.all(
      Array.from({ length: o.concurrency ?? 8 }, async () => {
        while (!done()) await oneConnection()
      }),
    )
  } finally {
    await sleep(100)
    await listener.close()
  }
  return { ...stats, elapsedMs: Math.round(performance.now() - started) }
}
