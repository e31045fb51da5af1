/**
 * Benchmark of @helios/codec envelopes: encode + decode of one envelope per operation, against
 * JSON.stringify/parse (to and from bytes, binary as base64) and plain msgpackr pack/unpack of the
 * same `{recipient, sender, message}`, measured in the same run, rounds interleaved.
 *
 *   pnpm bench:codec [--quick] [--json]
 */
import { Codec, MessageRegistry } from '@helios/codec'
import type { AssociationCodec } from '@helios/codec'
import { isNativeAccelerationEnabled, pack, unpack } from 'msgpackr'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'

const args = new Set(process.argv.slice(2))
const quick = args.has('--quick')
const asJson = args.has('--json')

const RECIPIENT = 'helios.tcp://bench@127.0.0.1:2552/user/ponger#1234567890'
const SENDER = 'helios.tcp://bench@127.0.0.1:2553/user/pinger#987654321'

const object100 = { id: 123456, user: 'alice@example.com', action: 'purchase', amount: 42.5, items: ['a1', 'b2', 'c3'], ok: true }

/** A registered class holding values msgpack has no type for (Map, Set, Date): the extension path. */
class Order {
  constructor(
    readonly id: number,
    readonly placed: Date,
    readonly lines: Map<string, number>,
    readonly tags: Set<string>,
  ) {}
}
const order = new Order(
  123456,
  new Date(1_700_000_000_123),
  new Map([
    ['a1', 2],
    ['b2', 1],
    ['c3', 5],
  ]),
  new Set(['gift', 'express']),
)

interface Case {
  readonly name: string
  readonly message: unknown
  readonly binary: boolean
}
const allCases: Case[] = [
  { name: 'hit', message: 'hit', binary: false },
  { name: '100-byte object', message: object100, binary: false },
  { name: 'class, Map, Set', message: order, binary: false },
  { name: '4 KiB binary', message: Buffer.alloc(4096, 7), binary: true },
  { name: '1 MiB binary', message: Buffer.alloc(1 << 20, 7), binary: true },
]
const only = process.env['CODEC_BENCH_CASE']
const cases = only === undefined ? allCases : allCases.filter((c) => c.name === only)

let sink = 0

function makeAssociations(): { ab: AssociationCodec; ba: AssociationCodec } {
  const registry = new MessageRegistry().register(Order, 'bench.Order')
  const a = new Codec({ registry, localUid: 1n })
  const b = new Codec({ registry, localUid: 2n })
  const ab = a.createAssociation({ remoteUid: 2n })
  const ba = b.createAssociation({ remoteUid: 1n })
  // steady state: both paths compressed and acked
  ab.compressActorPath(RECIPIENT)
  ab.compressActorPath(SENDER)
  for (const f of ab.takeControlFrames()) ba.decode(f)
  for (const f of ba.takeControlFrames()) ab.decode(f)
  return { ab, ba }
}

type Op = () => number

function heliosOp(c: Case): { op: Op; bytes: number } {
  const { ab, ba } = makeAssociations()
  const frames = ab.encodeUserMessage(RECIPIENT, c.message, SENDER)
  const bytes = frames.reduce((n, f) => n + f.length, 0)
  return {
    bytes,
    op: () => {
      const out = ab.encodeUserMessage(RECIPIENT, c.message, SENDER)
      let pdu
      for (let i = 0; i < out.length; i++) pdu = ba.decode(out[i] as Uint8Array)
      return pdu === undefined ? 0 : 1
    },
  }
}

function jsonOp(c: Case): { op: Op; bytes: number } {
  const encode = (): Buffer =>
    Buffer.from(
      JSON.stringify({ recipient: RECIPIENT, sender: SENDER, message: c.binary ? (c.message as Buffer).toString('base64') : c.message }),
    )
  const decode = (buf: Buffer): number => {
    const env = JSON.parse(buf.toString('utf8')) as { message: unknown }
    if (c.binary) return Buffer.from(env.message as string, 'base64').length
    return env.message === undefined ? 0 : 1
  }
  return { bytes: encode().length, op: () => decode(encode()) }
}

function msgpackrOp(c: Case): { op: Op; bytes: number } {
  const encode = (): Buffer => pack({ recipient: RECIPIENT, sender: SENDER, message: c.message })
  return {
    bytes: encode().length,
    op: () => {
      const env = unpack(encode()) as { message: unknown }
      return env.message === undefined ? 0 : 1
    },
  }
}

/** ops/s of `op` over about `ms` milliseconds. */
function measure(op: Op, ms: number): number {
  let n = 0
  let batch = 1
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) sink += op()
    n += batch
    elapsed = performance.now() - start
    if (elapsed < ms / 20) batch *= 2
  }
  return (n * 1000) / elapsed
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

const impls = [
  { name: 'helios', make: heliosOp },
  { name: 'json', make: jsonOp },
  { name: 'msgpackr', make: msgpackrOp },
] as const

// many short rounds, the implementations taking turns: on a shared machine every implementation
// then sees the same background load, which keeps the ratios meaningful
const rounds = quick ? 15 : 41
const roundMs = quick ? 50 : 100

interface Row {
  readonly case: string
  readonly ops: Record<string, number>
  readonly bytes: Record<string, number>
}
const rows: Row[] = []
for (const c of cases) {
  const made = impls.map((i) => ({ name: i.name, ...i.make(c) }))
  const samples: Record<string, number[]> = {}
  for (const m of made) {
    measure(m.op, roundMs * 4) // warm-up
    samples[m.name] = []
  }
  const ms = c.name === '1 MiB binary' ? roundMs * 2 : roundMs
  for (let r = 0; r < rounds; r++) for (const m of made) samples[m.name]?.push(measure(m.op, ms))
  rows.push({
    case: c.name,
    ops: Object.fromEntries(made.map((m) => [m.name, median(samples[m.name] ?? [])])),
    bytes: Object.fromEntries(made.map((m) => [m.name, m.bytes])),
  })
}

const cpu = cpus()[0]?.model ?? 'unknown'
const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1))
console.log(`@helios/codec envelope encode+decode, ${quick ? 'quick' : 'full'} run (${rounds} rounds x ${roundMs} ms, median)`)
console.log(
  `node ${process.version}, ${cpus().length} cpus, ${cpu}, msgpackr native addon: ${isNativeAccelerationEnabled ? 'active' : 'inactive'}`,
)
console.log('')
console.log(
  ['case', 'helios ops/s', 'json ops/s', 'msgpackr ops/s', 'x json', 'x msgpackr', 'helios B', 'json B', 'msgpackr B']
    .map((h, i) => (i === 0 ? h.padEnd(16) : h.padStart(16)))
    .join(''),
)
for (const r of rows) {
  const h = r.ops['helios'] ?? 0
  const j = r.ops['json'] ?? 1
  const m = r.ops['msgpackr'] ?? 1
  console.log(
    [
      r.case.padEnd(16),
      fmt(h),
      fmt(j),
      fmt(m),
      (h / j).toFixed(2),
      (h / m).toFixed(2),
      String(r.bytes['helios']),
      String(r.bytes['json']),
      String(r.bytes['msgpackr']),
    ]
      .map((v, i) => (i === 0 ? v : v.padStart(16)))
      .join(''),
  )
}
if (sink === -1) console.log('')

if (asJson) {
  const results: object[] = []
  for (const r of rows) {
    const h = r.ops['helios'] ?? 0
    const j = r.ops['json'] ?? 1
    const m = r.ops['msgpackr'] ?? 1
    results.push({
      case: `envelope ${r.case} vs json`,
      value: Math.round(h),
      unit: 'ops/s',
      baseline: Math.round(j),
      baselineName: 'json',
      ratio: Number((h / j).toFixed(3)),
    })
    results.push({
      case: `envelope ${r.case} vs msgpackr`,
      value: Math.round(h),
      unit: 'ops/s',
      baseline: Math.round(m),
      baselineName: 'msgpackr',
      ratio: Number((h / m).toFixed(3)),
    })
    results.push({ case: `envelope bytes ${r.case}`, value: r.bytes['helios'], unit: 'bytes' })
  }
  console.log(JSON.stringify({ bench: 'codec', results }))
}
