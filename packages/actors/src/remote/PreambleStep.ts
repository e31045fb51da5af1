import { decodePreamble, PREAMBLE_LENGTH, type Preamble } from '@helios/codec'
import type { ChannelHandler, ChannelHandlerContext } from '@helios/transport'

/**
 * First handler of a connection, whichever side opened it: collects the 8-byte preamble (magic,
 * version, lane) as bytes arrive and lets the subclass refuse a wrong peer at its first wrong
 * byte. Once the subclass accepts the preamble, the step leaves the pipeline and passes on
 * whatever followed the preamble.
 */
export abstract class PreambleStep implements ChannelHandler {
  private buffered: Uint8Array | undefined

  /** The bytes so far (`bytes`) cannot start a preamble this node reads: close the connection. */
  protected abstract refused(ctx: ChannelHandlerContext, error: Error, bytes: Uint8Array): void
  /** The preamble is complete; return false after closing the connection to refuse it. */
  protected abstract accepted(ctx: ChannelHandlerContext, preamble: Preamble): boolean

  channelRead(ctx: ChannelHandlerContext, message: unknown): void {
    const chunk = message as Uint8Array
    const buf = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk])
    let preamble
    try {
      preamble = decodePreamble(buf, 0, buf.length)
    } catch (err) {
      this.refused(ctx, err as Error, buf)
      return
    }
    if (preamble === undefined) {
      this.buffered = buf
      return
    }
    this.buffered = undefined
    if (!this.accepted(ctx, preamble)) return
    ctx.pipeline.remove(this)
    if (buf.length > PREAMBLE_LENGTH) ctx.fireChannelRead(buf.subarray(PREAMBLE_LENGTH))
  }
}
