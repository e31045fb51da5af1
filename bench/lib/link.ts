/**
 * A raw framed link over one socket (TCP, TLS or UDP), used by both ends of the raw baselines.
 *
 * `send(value)` packs a frame into the pending batch. With `flush: 'batch'` (the default) the
 * batch goes out in one write when the socket read being handled is done (every frame of the read
 * handled: a reply leaves before the read callback returns), or at the end of the tick for a send
 * made outside a read: many frames per syscall under load, no added delay for one in flight. With
 * `flush: 'sync'` every send writes at once (the latency client).
 */
import type { Socket as DgramSocket } from 'node:dgram'
import type { Socket } from 'node:net'
import { FrameBatch, FrameReader, decodeDatagram } from './frame.js'

export type FlushMode = 'batch' | 'sync'

/** Biggest datagram the UDP links send; frames never span datagrams. */
export const MAX_DATAGRAM = 32 * 1024

export interface Link {
  /** Queues one frame; returns its size on the wire. */
  send(value: unknown): number
  /** Writes what is queued now. */
  flush(): void
  close(): void
  readonly kind: 'stream' | 'dgram'
}

/**
 * What both links share: the batch and when it is written. Frames sent while a read is handled
 * ({@link handleRead}) go out when that read is done; other sends at the end of the tick, or at
 * once with `flush: 'sync'`.
 */
abstract class BatchingLink {
  protected readonly batch: FrameBatch
  private scheduled = false
  /** True while the frames of a read are being handled. */
  private reading = false
  private readonly flushBound = (): void => {
    this.scheduled = false
    this.flush()
  }

  constructor(private readonly mode: FlushMode, batchBytes?: number) {
    this.batch = new FrameBatch(batchBytes)
  }

  abstract flush(): void

  /** Runs `handle` (which decodes the frames of one read and may send), then writes what it sent. */
  handleRead(handle: () => void): void {
    this.reading = true
    try {
      handle()
    } finally {
      this.reading = false
    }
    this.flush()
  }

  /** Called after a frame joined the batch. */
  protected sent(): void {
    if (this.mode === 'sync') this.flush()
    else if (!this.reading && !this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushBound)
    }
  }
}

/** A link over a connected net.Socket or tls.TLSSocket. */
export class StreamLink extends BatchingLink implements Link {
  readonly kind = 'stream' as const
  private readonly socket: Socket

  constructor(socket: Socket, onFrame: (value: unknown) => void, mode: FlushMode = 'batch') {
    super(mode)
    this.socket = socket
    socket.setNoDelay(true)
    const reader = new FrameReader(onFrame)
    socket.on('data', (chunk: Buffer) => this.handleRead(() => reader.push(chunk)))
  }

  send(value: unknown): number {
    const size = this.batch.add(value)
    this.sent()
    return size
  }

  flush(): void {
    if (this.batch.byteLength === 0 || this.socket.destroyed) return
    this.socket.write(this.batch.take())
  }

  close(): void {
    this.socket.destroy()
  }
}

/** A link over a UDP socket to one fixed peer; frames are batched into datagrams. */
export class DatagramLink extends BatchingLink implements Link {
  readonly kind = 'dgram' as const
  private readonly socket: DgramSocket
  private port: number
  private readonly host: string
  /** Datagrams whose send reported an error (dropped by the kernel or the socket). */
  sendErrors = 0

  constructor(socket: DgramSocket, host: string, port: number, mode: FlushMode = 'batch') {
    super(mode, MAX_DATAGRAM)
    this.socket = socket
    this.host = host
    this.port = port
  }

  /** Points the link at another peer port (a server learns its client's port from the first datagram). */
  retarget(port: number): void {
    this.port = port
  }

  send(value: unknown): number {
    const before = this.batch.byteLength
    const size = this.batch.add(value)
    if (before > 0 && before + size > MAX_DATAGRAM) {
      // The new frame does not fit: send what came before it as one datagram, keep the new frame.
      const all = this.batch.take()
      this.sendDatagram(all.subarray(0, before))
      this.batch.add(value)
    }
    this.sent()
    return size
  }

  flush(): void {
    if (this.batch.byteLength === 0) return
    this.sendDatagram(this.batch.take())
  }

  private sendDatagram(buf: Buffer): void {
    this.socket.send(buf, this.port, this.host, (err) => {
      if (err) this.sendErrors++
    })
  }

  close(): void {
    // The socket is owned by whoever created the link.
  }
}

/**
 * Feeds each frame of each datagram arriving on `socket` to `onFrame`; what `replies` batched
 * while the frames were handled is sent when the datagram is done.
 */
export function onDatagramFrames(socket: DgramSocket, onFrame: (value: unknown, port: number) => void, replies?: () => DatagramLink): void {
  socket.on('message', (msg, rinfo) => {
    const decode = (): void => decodeDatagram(msg, (v) => onFrame(v, rinfo.port))
    const link = replies?.()
    if (link === undefined) decode()
    else link.handleRead(decode)
  })
}
