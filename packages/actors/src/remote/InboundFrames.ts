import { PduTag } from '@helios/codec'
import { isLentFrame, LengthFieldBasedFrameDecoder } from '@helios/transport'

/**
 * The frame decoder of a remoting connection (tcp or tls): a u32 big-endian length, then the PDU.
 * A fragment that arrives over several reads (each of 256 KiB does) is lent (assembled in one
 * reused buffer, see `lendFrame` of the transport's LengthFieldBasedFrameDecoder) rather than
 * copied into a fresh buffer: its bytes are copied into reassembly at once (see {@link ownFrame}).
 */
export function remotingFrameDecoder(maxFrameSize: number): LengthFieldBasedFrameDecoder {
  return new LengthFieldBasedFrameDecoder({
    maxFrameLength: maxFrameSize + 4,
    lengthFieldLength: 4,
    initialBytesToStrip: 4,
    lendFrame: isFragment,
  })
}

function isFragment(tag: number): boolean {
  return tag === PduTag.fragment
}

/**
 * `frame`, or a copy when it is lent (valid only during this `channelRead`): for a frame that does
 * not go straight to its association, e.g. a handshake on a connection not bound yet. An
 * association copies a fragment's bytes into its reassembler at once, so it takes lent frames as
 * they are, and a peer streaming fragments costs no buffer per frame.
 */
export function ownFrame(frame: Uint8Array): Uint8Array {
  return isLentFrame(frame) ? Buffer.from(frame) : frame
}
