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

/** A link over a connected net.Socket or tls.TLSSocket. */
export class StreamLink implements Link {
  readonly kind = 'stream' as const
  private readonly socket: Socket
  private readonly batch = new FrameBatch()
  private scheduled = false
  /** True while the frames of a socket read are being handled. */
  private reading = false
  private readonly mode: FlushMode
  private readonly flushBound = (): void => {
    this.scheduled = false
    this.flush()
  }

  constructor(socket: Socket, onFrame: (value: unknown) => void, mode: FlushMode = 'batch') {
    this.socket = socket
    this.mode = mode
    socket.setNoDelay(true)
    const reader = new FrameReader(onFrame)
    socket.on('data', (chunk: Buffer) => {
      this.reading = true
      try {
        reader.push(chunk)
      } finally {
        this.reading = false
      }
      this.flush()
    })
  }

  send(value: unknown): number {
    const size = this.batch.add(value)
    if (this.mode === 'sync') this.flush()
    else if (!this.reading && !this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushBound)
    }
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
export class DatagramLink implements Link {
  readonly kind = 'dgram' as const
  private readonly socket: DgramSocket
  private readonly batch = new FrameBatch(MAX_DATAGRAM)
  private scheduled = false
  /** True while the frames of a received datagram are being handled ({@link onDatagramFrames}). */
  reading = false
  private readonly mode: FlushMode
  private port: number
  private readonly host: string
  private readonly flushBound = (): void => {
    this.scheduled = false
    this.flush()
  }
  /** Datagrams whose send reported an error (dropped by the kernel or the socket). */
  sendErrors = 0

  constructor(socket: DgramSocket, host: string, port: number, mode: FlushMode = 'batch') {
    this.socket = socket
    this.host = host
    this.port = port
    this.mode = mode
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
    if (this.mode === 'sync') this.flush()
    else if (!this.reading && !this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushBound)
    }
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
    const link = replies?.()
    if (link !== undefined) link.reading = true
    try {
      decodeDatagram(msg, (v) => onFrame(v, rinfo.port))
    } finally {
      if (link !== undefined) {
        link.reading = false
        link.flush()
      }
    }
  })
}
