import { Codec, Lane, MessageRegistry, encodePreamble } from '../src/index.js'
import type { AssociationCodec, Pdu, RefCodec } from '../src/index.js'
import { Greet, Point } from './helpers.js'

/** Classes and codecs the examples of docs/PROTOCOL.md use (Greet and Point are the tests' own). */
export { Greet, Point }
export class DocRef {
  constructor(readonly path: string) {}
}
const refCodec: RefCodec = {
  isRef: (v) => v instanceof DocRef,
  toPath: (r) => (r as DocRef).path,
  fromPath: (p) => new DocRef(p),
}
export const registry = new MessageRegistry().register(Greet, 'demo.Greet').register(Point, 'demo.Point', { fields: ['x', 'y'] })
export const codec = new Codec({ registry, refCodec, localUid: 1n })

export const A = 'helios.tcp://a@10.0.0.1:2552'
export const B = 'helios.tcp://b@10.0.0.2:2552'
export const PONG = `${B}/user/pong`
export const PING = `${A}/user/ping`

/**
 * The receiving side of an association on which `PONG` = 0, `PING` = 1 and `demo.Greet` = 0 were
 * advertised in generation 0, and (with `generation` 1) again in generation 1.
 */
export function compressedReceiver(generation = 0): AssociationCodec {
  const assoc = new Codec({ registry, refCodec, localUid: 2n }).createAssociation({ remoteUid: 1n })
  for (let g = 0; g <= generation; g++) {
    assoc.decode(
      codec.encode({
        type: 'compression-advertisement',
        originUid: 1n,
        table: 'actor-ref',
        generation: g,
        version: 1 + 2 * g,
        entries: [
          [0, PONG],
          [1, PING],
        ],
      }),
    )
    assoc.decode(
      codec.encode({
        type: 'compression-advertisement',
        originUid: 1n,
        table: 'manifest',
        generation: g,
        version: 1 + 2 * g,
        entries: [[0, 'demo.Greet']],
      }),
    )
  }
  return assoc
}

/** Named examples: each is a PDU (decoded statelessly unless `compressed`) or raw preamble bytes. */
export const examples: Record<string, { pdu?: Pdu; compressed?: true; generation?: number; bytes?: Uint8Array }> = {
  'preamble-control': { bytes: encodePreamble(Lane.control) },
  'preamble-user': { bytes: encodePreamble(Lane.user) },
  'frame-heartbeat': { pdu: { type: 'heartbeat' } },
  'handshake-request': {
    pdu: {
      type: 'handshake-request',
      from: { address: A, uid: 0x0123456789abcdefn },
      to: B,
      nonce: 0x1122334455667788n,
      session: 1,
      toSession: 0,
    },
  },
  'handshake-response': {
    pdu: {
      type: 'handshake-response',
      from: { address: B, uid: 0xfedcba9876543210n },
      to: A,
      nonce: 0x1122334455667788n,
      session: 300,
      toSession: 7,
    },
  },
  heartbeat: { pdu: { type: 'heartbeat' } },
  'heartbeat-reply': { pdu: { type: 'heartbeat-reply', uid: 0xfedcba9876543210n } },
  'user-ack': { pdu: { type: 'user-ack', seq: 300 } },
  disassociate: { pdu: { type: 'disassociate', reason: 2, detail: 'bye' } },
  quarantined: { pdu: { type: 'quarantined', from: { address: A, uid: 1n }, to: { address: B, uid: 2n } } },
  'user-envelope-literal': { pdu: { type: 'user-envelope', seq: 1, recipient: PONG, sender: PING, message: 'hit' } },
  'user-envelope-compressed': { pdu: { type: 'user-envelope', seq: 1, recipient: PONG, sender: PING, message: 'hit' }, compressed: true },
  'user-envelope-generation': {
    pdu: { type: 'user-envelope', seq: 1, recipient: PONG, sender: PING, message: 'hit' },
    compressed: true,
    generation: 1,
  },
  'user-envelope-no-sender': { pdu: { type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: { n: 1, ok: true } } },
  'user-envelope-class': { pdu: { type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: new Greet('bob', 3) } },
  'user-envelope-class-compressed': {
    pdu: { type: 'user-envelope', seq: 1, recipient: PONG, sender: undefined, message: new Greet('bob', 3) },
    compressed: true,
  },
  'user-envelope-fields': { pdu: { type: 'user-envelope', seq: 1, recipient: 'r', sender: undefined, message: new Point(1, -2) } },
  'user-envelope-types': {
    pdu: {
      type: 'user-envelope',
      seq: 1,
      recipient: 'r',
      sender: undefined,
      message: [undefined, 5n, new Date(1000), new Map([[1, 'a']]), new Set(['x']), Uint8Array.of(7, 8), Buffer.from([9]), new DocRef('p')],
    },
  },
  'system-envelope': { pdu: { type: 'system-envelope', seq: 5, recipient: 'r', sender: 's', message: 'watch' } },
  ack: { pdu: { type: 'ack', cumulative: 7, selective: [9, 10] } },
  nack: { pdu: { type: 'nack', cumulative: 7, missing: [8] } },
  fragment: { pdu: { type: 'fragment', messageId: 0, totalLength: 300000, offset: 262128, chunk: Uint8Array.of(0xde, 0xad) } },
  'compression-advertisement': {
    pdu: {
      type: 'compression-advertisement',
      originUid: 1n,
      table: 'actor-ref',
      generation: 0,
      version: 1,
      entries: [
        [0, PONG],
        [1, PING],
      ],
    },
  },
  'compression-advertisement-generation': {
    pdu: { type: 'compression-advertisement', originUid: 1n, table: 'actor-ref', generation: 1, version: 3, entries: [[0, PING]] },
  },
  'compression-ack': { pdu: { type: 'compression-ack', originUid: 2n, table: 'actor-ref', generation: 0, version: 1 } },
}

/** The bytes of an example (for compressed ones: as an association with the tables above sends them). */
export function exampleBytes(name: string): Uint8Array {
  const example = examples[name]
  if (example === undefined) throw new Error(`no example ${name}`)
  if (example.bytes !== undefined) return example.bytes
  const pdu = example.pdu as Pdu
  if (example.compressed) {
    const sender = codec.createAssociation({ remoteUid: 2n })
    sender.compressActorPath(PONG)
    sender.compressActorPath(PING)
    sender.compressManifest('demo.Greet')
    const peer = new Codec({ localUid: 2n })
    const settle = (): void => {
      for (const ad of sender.takeControlFrames()) {
        const d = peer.decode(ad)
        if (d.type === 'compression-advertisement')
          sender.decode(
            peer.encode({ type: 'compression-ack', originUid: 2n, table: d.table, generation: d.generation ?? 0, version: d.version }),
          )
      }
    }
    settle()
    for (let g = 0; g < (example.generation ?? 0); g++) {
      // used in the window, hence carried into the next generation in the same order
      sender.encodeSystemMessage(1, PONG, new Greet('x', 0), PING)
      sender.recycleCompression()
      settle()
    }
    const frames = sender.encode(pdu)
    return frames[0] as Uint8Array
  }
  const payload = codec.encode(pdu)
  if (name.startsWith('frame-')) {
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(payload.length)
    return Buffer.concat([prefix, payload])
  }
  return payload
}
