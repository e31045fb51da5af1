import { CodecError } from '../errors.js'
import type { EnvelopeHeader } from '../errors.js'
import { PduTag } from '../Pdu.js'
import type { SystemEnvelopePdu, UserEnvelopePdu } from '../Pdu.js'
import type { DecodeContext, EncodeContext } from './BodyCodec.js'
import { decodeValue, encodeValue } from './BodyCodec.js'
import type { InboundCompressionTable } from './CompressionTables.js'
import { CorruptedFrameError } from '../errors.js'
import type { HeaderReader } from './Wire.js'
import { readUtf8, strHeaderSize, uintSize, utf8Length, writeStr, writeUint } from './Wire.js'

/*
 * Envelope: tag, [seq], recipient, sender, message. The header fields are written and read here;
 * a message that is a short string, a number, a boolean or nil is too (straight into a buffer of
 * the exact size), everything else goes through the value writer after the header's room.
 */

const NIL = 0xc0

function fieldSize(field: string | number | undefined, strLength: number): number {
  if (field === undefined) return 1
  if (typeof field === 'number') return uintSize(field)
  return strHeaderSize(strLength) + strLength
}

function writeField(buf: Buffer, pos: number, field: string | number | undefined, strLength: number): number {
  if (field === undefined) {
    buf[pos] = NIL
    return pos + 1
  }
  if (typeof field === 'number') return writeUint(buf, pos, field)
  return writeStr(buf, pos, field, strLength)
}

/** Bytes of a message the fast path writes itself, or -1 if the value writer must. */
function scalarSize(message: unknown, strLength: number): number {
  switch (typeof message) {
    case 'string':
      return strLength < 0 ? -1 : strHeaderSize(strLength) + strLength
    case 'boolean':
      return 1
    case 'number':
      if (message >>> 0 === message) return uintSize(message) === 9 ? 5 : uintSize(message)
      if (message >> 0 === message) return message >= -0x20 ? 1 : message >= -0x80 ? 2 : message >= -0x8000 ? 3 : 5
      return 9
    case 'undefined':
      return 3
    case 'object':
      return message === null ? 1 : -1
    default:
      return -1
  }
}

function writeScalar(buf: Buffer, pos: number, message: unknown, strLength: number): void {
  switch (typeof message) {
    case 'string':
      writeStr(buf, pos, message, strLength)
      return
    case 'boolean':
      buf[pos] = message ? 0xc3 : 0xc2
      return
    case 'number':
      if (message >>> 0 === message) {
        writeUint(buf, pos, message)
      } else if (message >> 0 === message) {
        if (message >= -0x20) buf[pos] = 0x100 + message
        else if (message >= -0x80) {
          buf[pos] = 0xd0
          buf[pos + 1] = message + 0x100
        } else if (message >= -0x8000) {
          buf[pos] = 0xd1
          buf.writeInt16BE(message, pos + 1)
        } else {
          buf[pos] = 0xd2
          buf.writeInt32BE(message, pos + 1)
        }
      } else {
        buf[pos] = 0xcb
        buf.writeDoubleBE(message, pos + 1)
      }
      return
    case 'undefined':
      buf[pos] = 0xd4
      buf[pos + 1] = 0
      buf[pos + 2] = 0
      return
    default:
      buf[pos] = NIL
  }
}

/**
 * Encodes an envelope (`tag`: user or system) into one payload. `recipient` / `sender` are literal
 * paths or compressed indexes (`sender` undefined for none) of compression generation
 * `generation`: 0 is written with `tag` as it is, a later one with the tag of envelopes in a
 * generation (`15`/`16`) and the generation after the seq.
 */
export function encodeEnvelope(
  tag: typeof PduTag.userEnvelope | typeof PduTag.systemEnvelope,
  seq: number,
  generation: number,
  recipient: string | number,
  sender: string | number | undefined,
  message: unknown,
  ctx: EncodeContext,
): Buffer {
  const recipientLength = typeof recipient === 'string' ? utf8Length(recipient) : 0
  const senderLength = typeof sender === 'string' ? utf8Length(sender) : 0
  const headerSize =
    1 +
    uintSize(seq) +
    (generation === 0 ? 0 : uintSize(generation)) +
    fieldSize(recipient, recipientLength) +
    fieldSize(sender, senderLength)
  const messageLength = typeof message === 'string' && message.length < 256 ? utf8Length(message) : -1
  const bodySize = scalarSize(message, messageLength)
  let out: Buffer
  if (bodySize >= 0) {
    out = Buffer.allocUnsafe(headerSize + bodySize)
    writeScalar(out, headerSize, message, messageLength)
  } else {
    out = encodeValue(message, headerSize, ctx)
  }
  let pos: number
  if (generation === 0) {
    out[0] = tag
    pos = writeUint(out, 1, seq)
  } else {
    out[0] = tag === PduTag.userEnvelope ? PduTag.userEnvelopeInGeneration : PduTag.systemEnvelopeInGeneration
    pos = writeUint(out, writeUint(out, 1, seq), generation)
  }
  pos = writeField(out, pos, recipient, recipientLength)
  writeField(out, pos, sender, senderLength)
  return out
}

function resolvePath(field: string | number, table: InboundCompressionTable | undefined): string {
  if (typeof field === 'string') return field
  if (table === undefined) throw new CorruptedFrameError(`compressed actor-ref index ${field} outside an association`)
  return table.get(field)
}

/** Tries the scalar fast path: a single str/int/bool/nil token filling `[pos, end)`. */
function decodeScalar(buf: Uint8Array, pos: number, end: number): unknown {
  const token = buf[pos] as number
  const length = end - pos
  if (token >= 0xa0 && token <= 0xbf) {
    if (length === token - 0xa0 + 1) return readUtf8(buf, pos + 1, end)
    return NOT_SCALAR
  }
  if (length === 1) {
    if (token < 0x80) return token
    if (token >= 0xe0) return token - 0x100
    if (token === 0xc0) return null
    if (token === 0xc2) return false
    if (token === 0xc3) return true
  }
  return NOT_SCALAR
}
const NOT_SCALAR = Symbol('not a scalar')

/**
 * Decodes an envelope whose tag the reader has already consumed. A failure after its number was
 * read (its paths, its message) carries the header in `error.envelope`, the recipient `(unknown)`
 * when the recipient's path itself failed.
 */
export function decodeEnvelope(tag: number, reader: HeaderReader, ctx: DecodeContext): UserEnvelopePdu | SystemEnvelopePdu {
  const seq = reader.readUint('sequence number')
  const inGeneration = tag === PduTag.userEnvelopeInGeneration || tag === PduTag.systemEnvelopeInGeneration
  const generation = inGeneration ? reader.readUint('compression generation') : 0
  // the tables of the generation the indexes belong to (when it is no longer held, indexes fail alone)
  ctx.refs?.selectGeneration(generation)
  const system = tag === PduTag.systemEnvelope || tag === PduTag.systemEnvelopeInGeneration
  let recipient: string | undefined
  let sender: string | undefined
  let message: unknown
  try {
    recipient = resolvePath(reader.readStrOrIndex('recipient'), ctx.refs)
    if (reader.peek() === NIL) {
      reader.pos++
    } else {
      sender = resolvePath(reader.readStrOrIndex('sender'), ctx.refs)
    }
    const { buf, pos, end } = reader
    if (pos >= end) throw new CorruptedFrameError('envelope without a message')
    message = decodeScalar(buf, pos, end)
    if (message === NOT_SCALAR) message = decodeValue(buf, pos, end, ctx)
  } catch (error) {
    if (error instanceof CodecError) {
      const header: EnvelopeHeader = {
        type: system ? 'system-envelope' : 'user-envelope',
        recipient: recipient ?? '(unknown)',
        sender,
        seq,
      }
      error.envelope = header
    }
    throw error
  }
  if (system) return { type: 'system-envelope', seq, recipient, sender, message }
  return { type: 'user-envelope', seq, recipient, sender, message }
}
