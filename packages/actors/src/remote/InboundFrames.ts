import { PduTag } from '@helios/codec'
import { isLentFrame, LengthFieldBasedFrameDecoder } from '@helios/transport'

/**
 * Frames of at least this many bytes that arrive over several reads are lent by the frame
 * decoder (assembled in one reused buffer) rather than copied into a fresh buffer each: see
 * `lendFramesFrom` of the transport's LengthFieldBasedFrameDecoder and {@link ownFrame}.
 */
export const LEND_FRAMES_FROM = 4096

/** The frame decoder of a remoting connection (tcp or tls): a u32 big-endian length, then the PDU. */
export function remotingFrameDecoder(maxFrameSize: number): LengthFieldBasedFrameDecoder {
  return new LengthFieldBasedFrameDecoder({
    maxFrameLength: maxFrameSize + 4,
    lengthFieldLength: 4,
    initialBytesToStrip: 4,
    lendFramesFrom: LEND_FRAMES_FROM,
  })
}

/**
 * The frame to decode and keep: `frame` itself, or a copy when it is lent (valid only during this
 * `channelRead`) — except a fragment that goes straight to its association (`toAssociation`),
 * whose bytes the reassembler copies into its arena at once. So a peer streaming fragments costs
 * no buffer per frame, and nothing that outlives the read (a message's binary fields are views of
 * its frame) points into the lent buffer.
 */
export function ownFrame(frame: Uint8Array, toAssociation: boolean): Uint8Array {
  if (!isLentFrame(frame) || (toAssociation && frame[0] === PduTag.fragment)) return frame
  return Buffer.from(frame)
}
