/**
 * Benchmark of @helios/transport: framed traffic through the channel pipeline
 * (LengthFieldBasedFrameDecoder + LengthFieldPrepender over TCP) against a hand-written raw
 * `net` socket with the same framing (u32 BE length, payload), measured in the same run, rounds
 * interleaved (raw, pipeline, raw, pipeline, ...). Client and server run in this one process (one
 * event loop serves both sides, for both contenders).
 *
 * Cases, for 64 B, 1 KiB and 64 KiB payloads:
 * - `stream`: the client sends frames as fast as the write buffer watermark lets it; the server
 *   decodes and counts them. Rate = frames the server decoded per second.
 * - `pingpong`: 64 frames in flight; the server echoes every frame, the client sends a new one for
 *   every echo it decodes. Rate = echoes the client decoded per second.
 *
 * The raw contender writes the 4-byte header and the payload as two buffers, corked per batch (as
 * ws does), and parses frames as views of the received chunk, copying only frames that span
 * chunks. Every round runs raw then pipeline back to back; the round with the median
 * pipeline/raw ratio is reported (its own value and baseline), so load from other processes,
 * which hits both contenders of a round alike, moves the figures but hardly the ratio.
 *
 *   pnpm bench:transport [--quick] [--json] [--rounds=N] [--seconds=S] [--case=stream|pingpong] [--size=64B|1KiB|64KiB] [--only=raw|pipeline]
 *
 * With --json the last line printed is
 * `{"bench":"transport","results":[{"case":"stream 1KiB","value":..,"unit":"msgs/s","baseline":..,"ratio":..}, ...]}`.
 */
import * as net from 'node:net'
import { availableParallelism, cpus } from 'node:os'
import type { Channel, ChannelHandler, ChannelHandlerContext, ServerChannel } from '@helios/transport'
import { Bootstrap, LengthFieldBasedFrameDecoder, LengthFieldPrepender, ServerBootstrap } from '@helios/transport'

const argv = process.argv.slice(2)
const flag = (name: string): boolean => argv.includes(`--${name}`)
const value = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const quick = flag('quick')
const asJson = flag('json')
const rounds = Number(value('rounds') ?? (quick ? 3 : 7))
const seconds = Number(value('seconds') ?? (quick ? 0.5 : 1.5))
const onlyMode = value('case')
const onlyImpl = value('only')
const onlySize = value('size')

const HOST = '127.0.0.1'
const IN_FLIGHT = 64
/** Frames written between flushes by the stream sender (both contenders). */
const BATCH = 64
const WATER_MARK = { low: 512 * 1024, high: 1024 * 1024 }
const MAX_FRAME = 1024 * 1024

type Mode = 'stream' | 'pingpong'
interface Case {
  readonly mode: Mode
  readonly size: number
  readonly label: string
}
const sizes: [number, string][] = [
  [64, '64B'],
  [1024, '1KiB'],
  [64 * 1024, '64KiB'],
]
const cases: Case[] = []
for (const mode of ['stream', 'pingpong'] as const) {
  if (onlyMode !== undefined && onlyMode !== mode) continue
  for (const [size, label] of sizes) if (onlySize === undefined || onlySize === label) cases.push({ mode, size, label: `${mode} ${label}` })
}

/** One measured run: frames counted over elapsed seconds, and the CPU time this process spent. */
interface Run {
  frames: number
  seconds: number
  cpuMicros: number
}

// ---------------------------------------------------------------- pipeline contender

function framing(ch: Channel): void {
  ch.pipeline
    .addLast('decoder', new LengthFieldBasedFrameDecoder({ maxFrameLength: MAX_FRAME, lengthFieldLength: 4, initialBytesToStrip: 4 }))
    .addLast('prepender', new LengthFieldPrepender({ lengthFieldLength: 4 }))
}

class Counter implements ChannelHandler {
  count = 0
  channelRead(): void {
    this.count++
  }
}

const echo: ChannelHandler = {
  sharable: true,
  channelRead(ctx: ChannelHandlerContext, msg: unknown) {
    ctx.write(msg)
  },
  channelReadComplete(ctx: ChannelHandlerContext) {
    ctx.flush()
  },
}

async function runPipeline(c: Case, durationMs: number): Promise<Run> {
  const counter = new Counter()
  const server: ServerChannel = await new ServerBootstrap()
    .option('writeBufferWaterMark', WATER_MARK)
    .childHandler((ch) => {
      framing(ch)
      ch.pipeline.addLast('app', c.mode === 'stream' ? new Counter() : echo)
    })
    .bind(0, HOST)
  const payload = Buffer.alloc(c.size, 0xab)
  let stop = false
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => {
    done = r
  })
  let clientCounter = counter
  let serverCounter: Counter | undefined

  const client = await new Bootstrap()
    .option('writeBufferWaterMark', WATER_MARK)
    .handler((ch) => {
      framing(ch)
      if (c.mode === 'stream') {
        ch.pipeline.addLast('pump', {
          channelWritabilityChanged(ctx: ChannelHandlerContext) {
            if (ctx.channel.isWritable) pump(ctx.channel)
          },
        })
      } else {
        clientCounter = counter
        ch.pipeline.addLast('pinger', {
          channelRead(ctx: ChannelHandlerContext, _msg: unknown) {
            counter.count++
            if (!stop) ctx.write(payload)
            else if (--outstanding === 0) done()
          },
          channelReadComplete(ctx: ChannelHandlerContext) {
            ctx.flush()
          },
        })
      }
    })
    .connect(server.localAddress!.port, HOST)

  let outstanding = IN_FLIGHT
  const pump = (ch: Channel): void => {
    while (!stop && ch.isWritable) {
      for (let i = 0; i < BATCH; i++) ch.write(payload)
      ch.flush()
    }
  }
  // The server's counter lives in the accepted child's pipeline.
  await waitFor(() => server.children.size === 1)
  const child = [...server.children][0]!
  if (c.mode === 'stream') serverCounter = child.pipeline.get<Counter>('app')!
  const counted = (): number => (c.mode === 'stream' ? serverCounter!.count : clientCounter.count)

  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  if (c.mode === 'stream') pump(client)
  else {
    for (let i = 0; i < IN_FLIGHT; i++) client.write(payload)
    client.flush()
  }
  await sleep(durationMs)
  const frames = counted()
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  stop = true
  if (c.mode === 'pingpong') await finished
  await client.close()
  await server.close()
  return { frames, seconds: elapsed, cpuMicros: cpu.user + cpu.system }
}

// ---------------------------------------------------------------- raw contender

/** Hand-written u32 BE framing: frames inside one chunk are views, frames across chunks are copied once. */
class RawFramer {
  private chunks: Buffer[] = []
  private buffered = 0
  private need = 4
  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.buffered > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      if (this.buffered < this.need) return
      chunk = Buffer.concat(this.chunks, this.buffered)
      this.chunks = []
      this.buffered = 0
    }
    let off = 0
    const end = chunk.length
    while (end - off >= 4) {
      const len = chunk.readUInt32BE(off)
      if (len > MAX_FRAME) throw new Error('frame too long')
      if (end - off - 4 < len) {
        this.need = 4 + len
        break
      }
      this.onFrame(chunk.subarray(off + 4, off + 4 + len))
      off += 4 + len
      this.need = 4
    }
    if (off < end) {
      if (end - off < 4) this.need = 4
      this.chunks.push(chunk.subarray(off))
      this.buffered = end - off
    }
  }
}

function header(len: number): Buffer {
  const h = Buffer.allocUnsafe(4)
  h.writeUInt32BE(len, 0)
  return h
}

async function runRaw(c: Case, durationMs: number): Promise<Run> {
  let serverCount = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    s.setNoDelay(true)
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    if (c.mode === 'stream') {
      const framer = new RawFramer(() => {
        serverCount++
      })
      s.on('data', (d: Buffer) => framer.push(d))
    } else {
      const out: Buffer[] = []
      const framer = new RawFramer((f) => {
        out.push(header(f.length), f)
      })
      s.on('data', (d: Buffer) => {
        framer.push(d)
        s.cork()
        for (const b of out) s.write(b)
        s.uncork()
        out.length = 0
      })
    }
  })
  await new Promise<void>((r) => {
    server.listen(0, HOST, r)
  })
  const port = (server.address() as net.AddressInfo).port
  const client = net.connect(port, HOST)
  client.setNoDelay(true)
  await new Promise<void>((r) => {
    client.once('connect', r)
  })
  await waitFor(() => sockets.size === 1)

  const payload = Buffer.alloc(c.size, 0xab)
  let stop = false
  let clientCount = 0
  let outstanding = IN_FLIGHT
  let done: () => void = () => {}
  const finished = new Promise<void>((r) => {
    done = r
  })

  const pump = (): void => {
    while (!stop && client.writableLength < WATER_MARK.high) {
      client.cork()
      for (let i = 0; i < BATCH; i++) {
        client.write(header(payload.length))
        client.write(payload)
      }
      client.uncork()
    }
  }
  if (c.mode === 'stream') {
    client.on('drain', pump)
  } else {
    const out: Buffer[] = []
    const framer = new RawFramer(() => {
      clientCount++
      if (!stop) out.push(header(payload.length), payload)
      else if (--outstanding === 0) done()
    })
    client.on('data', (d: Buffer) => {
      framer.push(d)
      if (out.length === 0) return
      client.cork()
      for (const b of out) client.write(b)
      client.uncork()
      out.length = 0
    })
  }

  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  if (c.mode === 'stream') pump()
  else {
    client.cork()
    for (let i = 0; i < IN_FLIGHT; i++) {
      client.write(header(payload.length))
      client.write(payload)
    }
    client.uncork()
  }
  await sleep(durationMs)
  const frames = c.mode === 'stream' ? serverCount : clientCount
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  stop = true
  if (c.mode === 'pingpong') await finished
  client.destroy()
  for (const s of sockets) s.destroy()
  await new Promise<void>((r) => {
    server.close(() => r())
  })
  return { frames, seconds: elapsed, cpuMicros: cpu.user + cpu.system }
}

// ---------------------------------------------------------------- driver

function sleep(ms: number): Promise<void> {
  return new Promise((r) => {
    setTimeout(r, ms)
  })
}

async function waitFor(p: () => boolean): Promise<void> {
  for (let i = 0; !p(); i++) {
    if (i > 1000) throw new Error('timed out waiting for the connection')
    await sleep(1)
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** The round whose pipeline/raw ratio is the median (the lower middle one for an even count). */
function medianPair(raw: number[], pipe: number[]): { value: number; baseline: number } {
  if (raw.length === 0 || pipe.length === 0 || raw.length !== pipe.length) {
    return { value: pipe.length > 0 ? median(pipe) : 0, baseline: raw.length > 0 ? median(raw) : 0 }
  }
  const order = raw.map((_, i) => i).sort((a, b) => pipe[a]! / raw[a]! - pipe[b]! / raw[b]!)
  const i = order[(order.length - 1) >> 1]!
  return { value: pipe[i]!, baseline: raw[i]! }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

interface Result {
  case: string
  value: number
  unit: 'msgs/s'
  baseline: number
  ratio: number
}

async function main(): Promise<void> {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown'
  const log = (s: string): void => {
    console.log(s)
  }
  log(`transport bench: node ${process.version}, ${cpu}, ${availableParallelism()} cores, ${process.platform}-${process.arch}`)
  log(
    `client and server in one process; ${rounds} rounds x ${seconds} s per contender and case, interleaved; the round with the median ratio is reported`,
  )
  const durationMs = seconds * 1000
  // Warm-up: let both contenders' hot paths be compiled before anything is measured.
  // Every case: the paths differ by size (small frames are coalesced on flush, large ones not).
  for (const c of cases) {
    if (onlyImpl !== 'pipeline') await runRaw(c, 250)
    if (onlyImpl !== 'raw') await runPipeline(c, 250)
  }
  const results: Result[] = []
  const rows: string[][] = []
  for (const c of cases) {
    const raw: number[] = []
    const pipe: number[] = []
    const rawCpu: number[] = []
    const pipeCpu: number[] = []
    for (let r = 0; r < rounds; r++) {
      if (onlyImpl !== 'pipeline') {
        const x = await runRaw(c, durationMs)
        raw.push(x.frames / x.seconds)
        rawCpu.push(x.cpuMicros / x.frames)
      }
      if (onlyImpl !== 'raw') {
        const x = await runPipeline(c, durationMs)
        pipe.push(x.frames / x.seconds)
        pipeCpu.push(x.cpuMicros / x.frames)
      }
    }
    // CPU time per frame (both sides, this process) moves less with outside load than the rate does.
    const cpuCol = `${rawCpu.length > 0 ? median(rawCpu).toFixed(2) : '-'} / ${pipeCpu.length > 0 ? median(pipeCpu).toFixed(2) : '-'}`
    // Each round is a back-to-back pair (raw, then pipeline), so load from elsewhere hits both
    // alike; the pair with the median ratio is reported, its ratio being exactly value/baseline.
    const pair = medianPair(raw, pipe)
    const baseline = pair.baseline
    const v = pair.value
    const ratio = baseline > 0 ? v / baseline : 0
    results.push({
      case: c.label,
      value: Math.round(v),
      unit: 'msgs/s',
      baseline: Math.round(baseline),
      ratio: Math.round(ratio * 1000) / 1000,
    })
    const mbps = (v * c.size) / 2 ** 20
    rows.push([
      c.label,
      fmt(baseline),
      fmt(v),
      `${mbps.toFixed(0)} MiB/s`,
      cpuCol,
      ratio.toFixed(2),
      target(c) > 0 ? (ratio >= target(c) ? `>= ${target(c)} ok` : `< ${target(c)} MISSED`) : '',
    ])
    const ratios = raw.length === pipe.length ? raw.map((r, i) => (pipe[i]! / r).toFixed(2)).join(' ') : '-'
    log(`  ${c.label}: raw ${raw.map(fmt).join(' / ')}; pipeline ${pipe.map(fmt).join(' / ')}; ratios ${ratios}`)
  }
  const head = ['case', 'raw msgs/s', 'pipeline msgs/s', 'pipeline payload', 'CPU us/msg raw / pipeline', 'ratio', 'target']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]): string => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ')
  log('')
  log(line(head))
  log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) log(line(r))
  if (asJson) console.log(JSON.stringify({ bench: 'transport', results }))
}

function target(c: Case): number {
  return c.size === 64 ? 0.6 : 0.8
}

await main()
