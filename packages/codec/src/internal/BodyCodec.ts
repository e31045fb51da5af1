import { CodecError, CorruptedFrameError } from '../errors.js'
import { MessageRegistry } from '../MessageRegistry.js'
import { scanValue } from './MsgpackScanner.js'
import type { DecodeContext } from './ValueReader.js'
import { NOT_PLAIN, readChecked, readPlain } from './ValueReader.js'
import type { EncodeContext } from './ValueWriter.js'
import { writeMessage } from './ValueWriter.js'

/*
 * Message values and control-PDU fields to and from msgpack. ValueWriter writes every value the
 * protocol carries; on decode, plain data (the common case) is read in one pass by the plain
 * reader, and anything else is first checked by MsgpackScanner (the protocol's subset, lengths,
 * nesting), which decides the typed error, then read with its extensions.
 *
 * No msgpackr here: its extensions are process-global (see ValueWriter.ts), and Helios must
 * neither change nor depend on what the application registers with it.
 */

export type { DecodeContext, EncodeContext }

/** Control PDUs carry plain data and bigints only: no registry, no refs. */
const CONTROL: EncodeContext = { registry: new MessageRegistry(), refCodec: undefined, maxDepth: 64, refs: undefined, manifests: undefined }

/**
 * Packs the fields of a control PDU (plain data and bigints), leaving `reserve` bytes free at the
 * start of the returned buffer for the caller's header. The buffer is a view into a slab that is
 * never written again.
 */
export function packPrepared(fields: unknown, reserve: number): Buffer {
  return writeMessage(fields, reserve, CONTROL)
}

/** Writes a message value after `header` bytes of room (see {@link writeMessage}). */
export function encodeValue(value: unknown, header: number, ctx: EncodeContext): Buffer {
  return writeMessage(value, header, ctx)
}

/**
 * Decodes the one msgpack value in `buf[start, end)`, refusing anything outside the protocol's
 * subset before any of it is turned into values.
 *
 * @throws {CodecError} only typed errors.
 */
export function decodeValue(buf: Uint8Array, start: number, end: number, ctx: DecodeContext): unknown {
  const plain = readPlain(buf, start, end, ctx.maxDepth)
  if (plain !== NOT_PLAIN) return plain
  const after = scanValue(buf, start, end, 0, ctx.maxDepth)
  if (after !== end) throw new CorruptedFrameError(`${end - after} bytes after the message value`)
  try {
    return readChecked(buf, start, end, ctx)
  } catch (error) {
    if (error instanceof CodecError) throw error
    throw new CorruptedFrameError('msgpack decoding failed', error)
  }
}
