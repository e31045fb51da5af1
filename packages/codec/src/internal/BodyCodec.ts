import { Packr, RESERVE_START_SPACE, Unpackr, addExtension } from 'msgpackr';
import {
  CodecError,
  CorruptedFrameError,
  MessageDecodeError,
  MessageEncodeError,
  NestingTooDeepError,
  UnknownManifestError,
  UnsupportedValueError,
} from '../errors.js';
import type { MessageRegistry } from '../MessageRegistry.js';
import type { RefCodec } from '../RefCodec.js';
import type { InboundCompressionTable, OutboundCompressionTable } from './CompressionTables.js';
import { ExtType, MAX_BIGINT_BYTES } from './ExtType.js';
import { scanFlags, scanValue } from './MsgpackScanner.js';
import { NOT_PLAIN, readPlain } from './PlainReader.js';
import { RegistrationKind } from './Registration.js';

/*
 * Message values go through msgpackr. Values msgpack has no type for (Map, registered class
 * instances, actor refs) are first replaced by small private wrapper objects, which msgpackr
 * writes through extensions registered once for these private classes only (so other msgpackr
 * users in the process are unaffected). The replacement copies only the containers on the path
 * to such a value.
 *
 * Messages of plain data only (the common case) take a shorter road in both directions:
 * PlainWriter writes the very bytes msgpackr would (a property test compares them), and
 * PlainReader reads them; both hand anything else to msgpackr, and every input that is not
 * plain, well-formed data goes through the scanner and msgpackr, which decide the typed error.
 * On small messages msgpackr's per-call set-up (a DataView per frame, its global state) costs
 * more than the value; see bench/codec.bench.ts.
 */

class MapWire {
  constructor(readonly items: unknown[]) {}
}
class ClassWire {
  constructor(
    readonly manifest: string | number,
    readonly data: unknown,
  ) {}
}
class RefWire {
  constructor(readonly path: string | number) {}
}

/** What encoding a message needs besides the value. */
export interface EncodeContext {
  readonly registry: MessageRegistry;
  readonly refCodec: RefCodec | undefined;
  readonly maxDepth: number;
  readonly refs: OutboundCompressionTable | undefined;
  readonly manifests: OutboundCompressionTable | undefined;
}

/** What decoding a message needs besides the bytes. */
export interface DecodeContext {
  readonly registry: MessageRegistry;
  readonly refCodec: RefCodec | undefined;
  readonly maxDepth: number;
  readonly refs: InboundCompressionTable | undefined;
  readonly manifests: InboundCompressionTable | undefined;
}

let decoding: DecodeContext | undefined;

function activeContext(): DecodeContext {
  if (decoding === undefined) throw new UnsupportedValueError('Helios extension decoded outside a Helios codec');
  return decoding;
}

function resolveRef(ctx: DecodeContext, data: unknown): unknown {
  const path = typeof data === 'number' ? compressedValue(ctx.refs, 'actor-ref', data) : (data as string);
  if (ctx.refCodec === undefined) throw new UnsupportedValueError(`message contains actor ref ${path} but this codec has no RefCodec`);
  try {
    return ctx.refCodec.fromPath(path);
  } catch (error) {
    throw new MessageDecodeError(`RefCodec.fromPath failed for ${path}`, error);
  }
}

function compressedValue(table: InboundCompressionTable | undefined, kind: string, index: number): string {
  if (table === undefined) throw new CorruptedFrameError(`compressed ${kind} index ${index} outside an association`);
  return table.get(index);
}

function rebuildInstance(ctx: DecodeContext, data: unknown): unknown {
  const pair = data as [string | number, unknown];
  const manifest = typeof pair[0] === 'number' ? compressedValue(ctx.manifests, 'manifest', pair[0]) : pair[0];
  const registration = ctx.registry.byManifest(manifest);
  if (registration === undefined) throw new UnknownManifestError(manifest);
  const fields = pair[1];
  if (registration.kind === RegistrationKind.custom) {
    try {
      return (registration.fromWire as (d: unknown) => object)(fields);
    } catch (error) {
      throw new MessageDecodeError(`fromWire of ${manifest} failed`, error);
    }
  }
  const instance = Object.create(registration.proto) as Record<string, unknown>;
  try {
    if (registration.kind === RegistrationKind.fields) {
      if (!Array.isArray(fields)) throw new TypeError('expected an array of fields');
      const names = registration.fields;
      const n = Math.min(names.length, fields.length);
      for (let i = 0; i < n; i++) instance[names[i] as string] = fields[i];
    } else {
      if (fields === null || typeof fields !== 'object' || Object.getPrototypeOf(fields) !== Object.prototype) {
        throw new TypeError('expected a map of properties');
      }
      const record = fields as Record<string, unknown>;
      for (const key of Object.keys(record)) instance[key] = record[key];
    }
  } catch (error) {
    throw new MessageDecodeError(`cannot rebuild an instance of ${manifest}`, error);
  }
  return instance;
}

addExtension({
  Class: MapWire,
  type: ExtType.map,
  write: (wire: MapWire) => wire.items,
  read: (items: unknown[]) => {
    activeContext();
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  },
});
addExtension({
  Class: ClassWire,
  type: ExtType.classInstance,
  write: (wire: ClassWire) => [wire.manifest, wire.data],
  read: (data: unknown) => rebuildInstance(activeContext(), data),
});
addExtension({
  Class: RefWire,
  type: ExtType.ref,
  write: (wire: RefWire) => wire.path,
  read: (data: unknown) => resolveRef(activeContext(), data),
});

/** The msgpackr instance for all values: no records (no state shared between frames), more types on. */
export const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  structuredClone: false,
  useBigIntExtension: true,
  encodeUndefinedAsNil: false,
  // map16 headers for objects: msgpackr then writes keys in one for-in pass instead of counting them first (2 bytes per object for ~10% faster encoding)
  variableMapSize: false,
});

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: true,
  structuredClone: false,
  int64AsType: 'bigint',
});

const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

function prepareBigint(value: bigint): bigint {
  if (value >= MIN_INT64 && value <= MAX_UINT64) return value;
  const bytes = (value < 0n ? ~value : value).toString(16).length / 2 + 1;
  if (bytes > MAX_BIGINT_BYTES) throw new UnsupportedValueError(`bigint wider than ${MAX_BIGINT_BYTES * 8} bits`);
  return value;
}

function preparePlain(source: Record<string, unknown>, ctx: EncodeContext, depth: number, alwaysCopy: boolean): Record<string, unknown> {
  if (depth >= ctx.maxDepth) throw new NestingTooDeepError(ctx.maxDepth);
  const keys = Object.keys(source);
  let out: Record<string, unknown> | undefined = alwaysCopy ? {} : undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__') throw new UnsupportedValueError('an own "__proto__" property cannot be sent');
    const value = source[key];
    const prepared = typeof value === 'object' && value !== null ? prepare(value, ctx, depth + 1) : prepareScalar(value);
    if (out === undefined) {
      if (prepared === value) continue;
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = source[keys[j] as string];
    }
    out[key] = prepared;
  }
  return out ?? source;
}

function prepareArray(source: readonly unknown[], ctx: EncodeContext, depth: number): unknown[] {
  if (depth >= ctx.maxDepth) throw new NestingTooDeepError(ctx.maxDepth);
  let out: unknown[] | undefined;
  for (let i = 0; i < source.length; i++) {
    const value = source[i];
    const prepared = typeof value === 'object' && value !== null ? prepare(value, ctx, depth + 1) : prepareScalar(value);
    if (out === undefined) {
      if (prepared === value) continue;
      out = source.slice(0, i);
    }
    out[i] = prepared;
  }
  return out ?? (source as unknown[]);
}

function prepareScalar(value: unknown): unknown {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      throw new UnsupportedValueError(`a ${typeof value} cannot be sent`);
    case 'bigint':
      return prepareBigint(value);
    default:
      return value;
  }
}

/**
 * Whether `value` holds anything msgpackr must not see as it is (a Map, a class instance, a ref,
 * a function...). It walks without allocating, so plain data costs one read of each value.
 */
function needsPrepare(value: unknown, depth: number, maxDepth: number): boolean {
  switch (typeof value) {
    case 'object': {
      if (value === null) return false;
      if (depth >= maxDepth) return true;
      const proto = Object.getPrototypeOf(value) as object | null;
      if (proto === Object.prototype) {
        const record = value as Record<string, unknown>;
        for (const key in record) {
          if (key === '__proto__' || needsPrepare(record[key], depth + 1, maxDepth)) return true;
        }
        return false;
      }
      if (proto === Array.prototype) {
        const array = value as unknown[];
        for (let i = 0; i < array.length; i++) if (needsPrepare(array[i], depth + 1, maxDepth)) return true;
        return false;
      }
      return !(proto === Buffer.prototype || proto === Uint8Array.prototype || proto === Date.prototype);
    }
    case 'bigint':
      return value < MIN_INT64 || value > MAX_UINT64;
    case 'function':
    case 'symbol':
      return true;
    default:
      return false;
  }
}

/** Replaces what msgpack cannot express by wrappers; returns `value` itself when nothing needs it. */
export function prepareMessage(value: unknown, ctx: EncodeContext): unknown {
  return needsPrepare(value, 0, ctx.maxDepth) ? prepare(value, ctx, 0) : value;
}

/** Replaces what msgpack cannot express by wrappers; returns `value` itself when nothing needs it. */
export function prepare(value: unknown, ctx: EncodeContext, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return prepareScalar(value);
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype) return preparePlain(value as Record<string, unknown>, ctx, depth, false);
  if (proto === Array.prototype) return prepareArray(value as unknown[], ctx, depth);
  if (proto === Buffer.prototype || proto === Uint8Array.prototype || proto === Date.prototype) return value;
  if (depth >= ctx.maxDepth) throw new NestingTooDeepError(ctx.maxDepth);
  if (proto === Map.prototype) {
    const items: unknown[] = [];
    for (const [k, v] of value as Map<unknown, unknown>) items.push(prepare(k, ctx, depth + 1), prepare(v, ctx, depth + 1));
    return new MapWire(items);
  }
  if (proto === Set.prototype) {
    let changed = false;
    const items: unknown[] = [];
    for (const v of value as Set<unknown>) {
      const p = prepare(v, ctx, depth + 1);
      if (p !== v) changed = true;
      items.push(p);
    }
    return changed ? new Set(items) : value;
  }
  if (proto === null) return preparePlain(value as Record<string, unknown>, ctx, depth, true);
  const refCodec = ctx.refCodec;
  if (refCodec !== undefined && refCodec.isRef(value)) {
    let path: string;
    try {
      path = refCodec.toPath(value);
    } catch (error) {
      throw new MessageEncodeError('RefCodec.toPath failed', error);
    }
    const index = ctx.refs === undefined ? -1 : ctx.refs.lookup(path);
    return new RefWire(index >= 0 ? index : path);
  }
  const registration = ctx.registry.byPrototype(proto);
  if (registration === undefined) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    throw new UnsupportedValueError(`instance of unregistered class ${String(name)}; register it in the MessageRegistry`);
  }
  let data: unknown;
  switch (registration.kind) {
    case RegistrationKind.custom: {
      let wire: unknown;
      try {
        wire = (registration.toWire as (v: object) => unknown)(value);
      } catch (error) {
        throw new MessageEncodeError(`toWire of ${registration.manifest} failed`, error);
      }
      data = prepare(wire, ctx, depth + 1);
      break;
    }
    case RegistrationKind.fields: {
      const record = value as Record<string, unknown>;
      data = prepareArray(
        registration.fields.map((f) => record[f]),
        ctx,
        depth + 1,
      );
      break;
    }
    default:
      data = preparePlain(value as Record<string, unknown>, ctx, depth + 1, true);
  }
  const manifestIndex = ctx.manifests === undefined ? -1 : ctx.manifests.lookup(registration.manifest);
  return new ClassWire(manifestIndex >= 0 ? manifestIndex : registration.manifest, data);
}

/**
 * Packs an already prepared value, leaving `reserve` (<= 255) bytes free at the start of the
 * returned buffer for the caller's header. The buffer is a view into msgpackr's output slab, which
 * is never written again.
 */
export function packPrepared(prepared: unknown, reserve: number): Buffer {
  try {
    return packr.pack(prepared, RESERVE_START_SPACE | reserve);
  } catch (error) {
    if (error instanceof CodecError) throw error;
    throw new UnsupportedValueError('msgpack encoding failed', error);
  }
}

const unpackRange = { start: 0, end: 0 };
const SCRATCH_SIZE = 128;
const scratch = Buffer.alloc(SCRATCH_SIZE);

/**
 * Decodes the one msgpack value in `buf[start, end)`, refusing anything outside the protocol's
 * subset before msgpackr sees it.
 *
 * @throws {CodecError} only typed errors.
 */
export function decodeValue(buf: Uint8Array, start: number, end: number, ctx: DecodeContext): unknown {
  const plain = readPlain(buf, start, end, ctx.maxDepth);
  if (plain !== NOT_PLAIN) return plain;
  scanFlags.sawBin = false;
  const after = scanValue(buf, start, end, 0, ctx.maxDepth);
  if (after !== end) throw new CorruptedFrameError(`${end - after} bytes after the message value`);
  const previous = decoding;
  decoding = ctx;
  try {
    const length = end - start;
    if (length <= SCRATCH_SIZE && !scanFlags.sawBin) {
      // small and without bin values (nothing decoded will point into the bytes): decoding a copy
      // in a buffer msgpackr already knows saves creating a DataView for every frame
      for (let i = 0; i < length; i++) scratch[i] = buf[start + i] as number;
      unpackRange.start = 0;
      unpackRange.end = length;
      return unpackr.unpack(scratch, unpackRange);
    }
    unpackRange.start = start;
    unpackRange.end = end;
    return unpackr.unpack(buf, unpackRange);
  } catch (error) {
    if (error instanceof CodecError) throw error;
    throw new CorruptedFrameError('msgpack decoding failed', error);
  } finally {
    decoding = previous;
  }
}
