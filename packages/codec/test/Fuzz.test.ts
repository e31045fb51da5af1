import test from 'ava'
import fc from 'fast-check'
import { CodecError, Codec } from '../src/index.js'
import type { Pdu } from '../src/index.js'
import { RECIPIENT, SENDER, makePair, messageValue, settle } from './helpers.js'

/** xorshift32: a deterministic stream, so a failure can be replayed from the printed seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

function corpus(): Uint8Array[] {
  const pair = makePair({ maxFrameSize: 256, compressAfter: 1 })
  const frames: Uint8Array[] = []
  const messages = fc.sample(messageValue, { numRuns: 300, seed: 42 })
  for (const m of messages) {
    try {
      frames.push(...pair.ab.encodeUserMessage(RECIPIENT, m, SENDER))
      frames.push(...pair.ab.encodeSystemMessage(3, RECIPIENT, m))
    } catch {
      // a sample too large for the small frame limit's message size: skip
    }
    frames.push(...pair.ab.takeControlFrames())
  }
  settle(pair)
  frames.push(...pair.ab.encodeUserMessage(RECIPIENT, 'hit', SENDER))
  const control: Pdu[] = [
    {
      type: 'handshake-request',
      from: { address: 'helios.tcp://a@h:1', uid: 2n ** 63n + 5n },
      to: 'helios.tcp://b@h:2',
      nonce: 2n ** 64n - 1n,
      session: Number.MAX_SAFE_INTEGER,
      toSession: Number.MAX_SAFE_INTEGER,
    },
    {
      type: 'handshake-response',
      from: { address: 'helios.tcp://b@h:2', uid: 7n },
      to: 'helios.tcp://a@h:1',
      nonce: 9n,
      session: 1,
      toSession: 0,
    },
    { type: 'heartbeat' },
    { type: 'heartbeat-reply', uid: 7n },
    { type: 'disassociate', reason: 2, detail: 'bye' },
    { type: 'quarantined', from: { address: 'a', uid: 1n }, to: { address: 'b', uid: 2n } },
    { type: 'ack', cumulative: 10, selective: [12, 13] },
    { type: 'nack', cumulative: 10, missing: [11] },
    { type: 'compression-advertisement', originUid: 1n, table: 'manifest', version: 3, entries: [[1, 'x']] },
    { type: 'compression-ack', originUid: 1n, table: 'actor-ref', version: 3 },
  ]
  for (const p of control) frames.push(pair.a.encode(p))
  return frames
}

test('100,000 random and mutated frames produce only typed CodecErrors', (t) => {
  const seed = Number(process.env['HELIOS_FUZZ_SEED'] ?? 0x5eed)
  t.log(`seed ${seed}`)
  const next = rng(seed)
  const seeds = corpus()
  const stateless = new Codec({ maxFrameSize: 4096 })
  const pair = makePair({ maxFrameSize: 4096, compressAfter: 1, maxReassemblyBytes: 1 << 16 })
  for (const s of seeds.slice(0, 50)) {
    try {
      pair.ba.decode(s)
    } catch {
      // some are fragments out of context
    }
  }
  settle(pair)
  const codes = new Map<string, number>()
  let decoded = 0
  const started = Date.now()
  for (let i = 0; i < 100_000; i++) {
    let frame: Uint8Array
    const kind = next() % 4
    if (kind === 0) {
      frame = new Uint8Array(1 + (next() % 64))
      for (let j = 0; j < frame.length; j++) frame[j] = next() & 0xff
      if (next() % 2 === 0) frame[0] = [0x01, 0x02, 0x04, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13, 0x20, 0x30, 0x31][next() % 12] as number
    } else {
      const base = seeds[next() % seeds.length] as Uint8Array
      const copy = Buffer.from(base)
      const mutations = 1 + (next() % 4)
      let bytes: Buffer = copy
      for (let m = 0; m < mutations; m++) {
        const op = next() % 5
        const at = next() % Math.max(1, bytes.length)
        if (op === 0) bytes[at] = next() & 0xff
        else if (op === 1) bytes = bytes.subarray(0, at)
        else if (op === 2) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([next() & 0xff, next() & 0xff]), bytes.subarray(at)])
        else if (op === 3) bytes[at] = [0xc1, 0xd4, 0xc7, 0xdd, 0xdf, 0xdb, 0xc6, 0xcf, 0x91, 0x81][next() % 10] as number
        else bytes = Buffer.concat([bytes, bytes.subarray(at)])
      }
      frame = bytes
    }
    const target = i % 2 === 0 ? stateless : pair.ba
    try {
      target.decode(frame, 0, frame.length)
      decoded++
    } catch (error) {
      if (!(error instanceof CodecError)) {
        t.fail(`untyped error for ${Buffer.from(frame).toString('hex')}: ${String(error)}`)
        return
      }
      codes.set(error.code, (codes.get(error.code) ?? 0) + 1)
    }
  }
  t.log(`${decoded} decoded, errors by code: ${JSON.stringify(Object.fromEntries(codes))}, ${Date.now() - started} ms`)
  t.true(pair.ba.reassembler.bufferedBytes <= 1 << 16)
  t.is(({} as Record<string, unknown>)['polluted'], undefined)
  t.is(Object.getPrototypeOf({}), Object.prototype)
})
