import { BadMagicError, UnknownLaneError, UnsupportedVersionError } from './errors.js'

/** The protocol version this implementation speaks (byte 6 of the preamble). */
export const PROTOCOL_VERSION = 4

/** The six magic bytes every connection starts with: ASCII `HELIOS`. */
export const PREAMBLE_MAGIC: Uint8Array = Uint8Array.of(0x48, 0x45, 0x4c, 0x49, 0x4f, 0x53)

/** Length of the connection preamble: 6 magic bytes, 1 version byte, 1 lane byte. */
export const PREAMBLE_LENGTH = 8

/** Length of the big-endian u32 length field in front of every frame (written by the transport). */
export const FRAME_LENGTH_FIELD_LENGTH = 4

/**
 * Lanes of an association (byte 7 of the preamble). Control traffic (handshake, heartbeats,
 * system messages, acks, compression) never waits behind user traffic.
 */
export const Lane = {
  /** Handshakes, heartbeats, system messages, acks, compression. */
  control: 0,
  /** User messages. */
  user: 1,
} as const
/** A lane number: `0` control, `1` user. */
export type Lane = (typeof Lane)[keyof typeof Lane]

/** A decoded connection preamble. */
export interface Preamble {
  /** Protocol version announced by the peer (always {@link PROTOCOL_VERSION} once decoded). */
  readonly version: number
  /** The lane this connection carries. */
  readonly lane: Lane
}

/**
 * Encodes the 8-byte connection preamble: `48 45 4c 49 4f 53 <version> <lane>`.
 *
 * @example encodePreamble(Lane.user) // <48 45 4c 49 4f 53 01 01>
 */
export function encodePreamble(lane: Lane, version: number = PROTOCOL_VERSION): Uint8Array {
  const out = new Uint8Array(PREAMBLE_LENGTH)
  out.set(PREAMBLE_MAGIC, 0)
  out[6] = version
  out[7] = lane
  return out
}

/**
 * Decodes a connection preamble from the first bytes received on a connection.
 *
 * Returns `undefined` while fewer than {@link PREAMBLE_LENGTH} bytes are available and those seen
 * so far are a valid prefix, so a wrong peer is refused at its first wrong byte.
 *
 * @throws {BadMagicError} the bytes do not start with `HELIOS` (e.g. a TLS ClientHello or HTTP).
 * @throws {UnsupportedVersionError} the peer speaks another protocol version.
 * @throws {UnknownLaneError} the lane byte is not a {@link Lane}.
 */
export function decodePreamble(buf: Uint8Array, start = 0, end: number = buf.length): Preamble | undefined {
  const available = Math.min(end - start, PREAMBLE_LENGTH)
  for (let i = 0; i < available && i < PREAMBLE_MAGIC.length; i++) {
    if (buf[start + i] !== PREAMBLE_MAGIC[i]) throw new BadMagicError()
  }
  if (available < 7) return undefined
  const version = buf[start + 6] as number
  if (version !== PROTOCOL_VERSION) throw new UnsupportedVersionError(version, PROTOCOL_VERSION)
  if (available < PREAMBLE_LENGTH) return undefined
  const lane = buf[start + 7] as number
  if (lane !== Lane.control && lane !== Lane.user) throw new UnknownLaneError(lane)
  return { version, lane }
}
