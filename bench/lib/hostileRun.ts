/**
 * The rows of the hostile-input benchmark (hostile.bench.ts): one attack variant per row, each on
 * fresh processes. A row starts a victim node (lib/hostileNode.ts, in its own process so that its
 * RSS and descriptors are its own), a legitimate peer that keeps a ping-pong with it, a newcomer
 * process that starts new nodes against it, and an attacker process (lib/hostileAttacker.ts); then
 *
 * 1. idle: the peer's pings run; the victim's RSS and descriptors are sampled (median over 1.5 s);
 * 2. attack: the variant's attack runs, then holds for a while; from now on new nodes try to
 *    associate one after the other (resolveOne + ask, timed), and the victim is sampled every 200 ms
 *    (RSS and peak RSS from /proc/<pid>/status, descriptors from /proc/<pid>/fd, its sockets in
 *    SYN-SENT from `ss` every second);
 * 3. the attackers leave; the victim is sampled (and new nodes go on trying) for up to `afterMs`
 *    (30 s), or until it has stayed within 20 MB of its idle RSS (and its idle descriptors, no
 *    SYN-SENT) for `settledMs`;
 * 4. the pings stop (what the legitimate association experienced), the victim reports its events.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PingStats } from '../../tests/support/attacks.js'
import { type NodeProc, spawnNode } from './faultCluster.js'
import type { FaultNet, NodeSlot } from './faultNet.js'
import type { HostileNodeConfig, VictimStats } from './hostileNode.js'
import type { Progress } from './progress.js'

const libDir = dirname(fileURLToPath(import.meta.url))
const NODE_MAIN = join(libDir, 'hostileNode.ts')
const ATTACKER_MAIN = join(libDir, 'hostileAttacker.ts')

/** The attacks of issue 13, each one or more variants (rows). */
export const ATTACKS = ['identities', 'compression', 'dial', 'slowloris', 'queue', 'udpflood', 'fuzz'] as const
export type AttackName = (typeof ATTACKS)[number]

export interface HostileOptions {
  attacks: AttackName[]
  /** Variant ids to run (all of the selected attacks when empty). */
  variants: string[]
  quick: boolean
  /** Spoofed identities of the identity and compression attacks. */
  identities: number
  /** How long the attack is held after it was sent (identities, compression, dial, udpflood). */
  holdMs: number
  /** Longest after-window, and how long the victim must have settled to end it early (0: never early). */
  afterMs: number
  settledMs: number
  dialEnvelopes: number
  udpDialEnvelopes: number
  /** File descriptor limit of the victim of the tcp dial attack (prlimit). */
  nofile: number
  slowlorisConnections: number
  slowlorisMs: number
  /** Bytes pushed by the queue attack, and the message sizes (one row each). */
  queueBytes: number
  queueMessageSizes: number[]
  floodFrames: number
  fuzzSeconds: number
  fuzzSeed: number | undefined
  /** Source address of the attackers' connections and sockets. */
  attackerAddress: string
  pingIntervalMs: number
  pingTimeoutMs: number
  pingLateMs: number
  probeTimeoutMs: number
  tls: { key: string; cert: string; ca: string } | undefined
}

/** The victim's memory around a full collection (the `collect` command of hostileNode.ts), in MB. */
export interface CollectedMemory {
  before: { rssMb: number; heapUsedMb: number; arrayBuffersMb: number }
  after: { rssMb: number; heapUsedMb: number; arrayBuffersMb: number }
  mallocHeapMb: number | null
}

/** One sample of the victim. */
export interface Sample {
  /** ms since the attack started (negative: idle). */
  t: number
  rssMb: number
  fds: number
  /** Its tcp sockets in SYN-SENT (sampled every second; absent in between). */
  synSent?: number
}

/** A new node's attempt to associate, during the attack or after it. */
export interface Probe {
  ok: boolean
  ms: number
  /** ms since the attack started. */
  at: number
  /** Started before the attackers left (`attack`) or after (`after`). */
  phase: 'attack' | 'after'
  error?: string
}

export interface RowResult {
  id: string
  attack: AttackName
  transport: 'tcp' | 'tls' | 'udp'
  label: string
  startedAt: string
  /** Load average (1 min) when the row started and ended. */
  loadStart: number
  loadEnd: number
  durationMs: number
  /** How long the attack phase lasted (attack start to the attackers' leaving). */
  attackMs: number
  /** How long the after-window lasted. */
  afterMs: number
  victim: {
    idleRssMb: number
    /** Peak RSS from the attack's start to the end of the row (the kernel's high-water mark when it could be reset, else the samples). */
    peakRssMb: number
    /** RSS at the end of the after-window. */
    afterRssMb: number
    /** ms after the attackers left from which the RSS stayed within 20 MB of idle (null: not within the window). */
    backWithinMs: number | null
    idleFds: number
    peakFds: number
    /** Peak of its sockets in SYN-SENT (null: not sampled). */
    peakSynSent: number | null
    /** CPU seconds it used during the attack and during the after-window. */
    cpuAttackSec: number
    cpuAfterSec: number
    /** How it ended by itself, when it did (a crash). */
    exited: string | null
    exitOutput?: string
    stats: VictimStats | null
    /**
     * A full collection in the victim at the very end (after the last sample and its stats): what
     * survives it is still referenced; what it frees was garbage V8 had not collected yet. `mallocHeapMb`
     * is what glibc's main heap (`[heap]` in smaps) keeps resident then: memory freed but not given back.
     */
    collected?: CollectedMemory | null
  }
  pings: PingStats | null
  probes: Probe[]
  /** How long a new node may take before it counts as failed. */
  probeTimeoutMs: number
  /** What the attacker processes reported (bytes sent, identities, ...). */
  attacker: Record<string, unknown>
  /** Variant-specific figures (amplification, drops, ...). */
  figures: Record<string, number | string | null>
  samples: Sample[]
  notes: string[]
  error?: string
}

/** What a variant's code gets. */
export interface RowContext {
  readonly o: HostileOptions
  readonly victim: NodeProc
  readonly attacker: NodeProc
  readonly attackerResults: Record<string, unknown>
  readonly figures: Record<string, number | string | null>
  readonly notes: string[]
  /** Starts another process of the row (killed with it). */
  spawn(config: HostileNodeConfig): Promise<NodeProc>
}

export interface Variant {
  id: string
  attack: AttackName
  transport: 'tcp' | 'tls' | 'udp'
  label: string
  /** The victim's file descriptor limit (prlimit), if any. */
  nofile?: number
  /** When the first new node tries, and how long each may take. */
  probeDelayMs?: number
  probeTimeoutMs?: number
  /** Watch the whole after-window, even once the victim settled (e.g. what it still sends a third party). */
  wholeAfter?: boolean
  /** The attack, its hold, and the attackers' leaving. */
  run(c: RowContext): Promise<void>
  /** At the end of the after-window (e.g. what a third party received). */
  after?(c: RowContext): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const load1 = (): number => Math.round((loadavg()[0] as number) * 100) / 100

const LOOPBACK: FaultNet = {
  mode: 'loopback',
  slots: [],
  command: (_slot, argv) => ({ file: argv[0] as string, args: argv.slice(1) }),
  partition: () => {
    throw new Error('no partitions here')
  },
  heal: () => {
    throw new Error('no partitions here')
  },
  cleanup: () => {},
}
const SLOT: NodeSlot = { index: 0, host: '127.0.0.1', port: 0 }

// ---- the victim's figures, from /proc and ss ---------------------------------------------------

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1])
  } catch {
    return null
  }
}

function fdCount(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}

/** CPU seconds (user + system) of a process. */
function cpuSec(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return null
  }
}

/** Resets the kernel's peak RSS of a process (root, Linux >= 4.0); false when it cannot. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** The process's tcp sockets in SYN-SENT, by `ss` (null when ss fails). */
function synSentOf(pid: number): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('ss', ['-H', '-tnp', 'state', 'syn-sent'], { maxBuffer: 64 * 2 ** 20, timeout: 10_000 }, (err, out) => {
      if (err !== null) return resolve(null)
      const needle = `pid=${pid},`
      let n = 0
      for (const line of out.split('\n')) if (line.includes(needle)) n++
      resolve(n)
    })
  })
}

class Sampler {
  /** Samples with `t` in performance.now() time until {@link since} rebases them. */
  readonly samples: Sample[] = []
  private timer: NodeJS.Timeout | undefined
  private tick = 0
  private ssBusy = false

  constructor(
    private readonly pid: number,
    private readonly tcp: boolean,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), 200)
  }

  private sample(): void {
    const kb = statusKb(this.pid, 'VmRSS')
    const fds = fdCount(this.pid)
    if (kb === null || fds === null) return
    const s: Sample = { t: performance.now(), rssMb: Math.round(kb / 102.4) / 10, fds }
    this.samples.push(s)
    if (this.tcp && this.tick++ % 5 === 0 && !this.ssBusy) {
      this.ssBusy = true
      void synSentOf(this.pid).then((n) => {
        this.ssBusy = false
        if (n !== null) s.synSent = n
      })
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
  }

  /** Samples taken between two performance.now() times. */
  between(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.t >= from && s.t <= to)
  }

  /** The samples with `t` in ms since `origin` (a performance.now() time). */
  since(origin: number): Sample[] {
    return this.samples.map((s) => ({ ...s, t: Math.round(s.t - origin) }))
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : (s[Math.floor(s.length / 2)] as number)
}

/** The first time (from `from`) after which every sample stays within `mb` of `idle`; null when the last one does not. */
function backWithin(samples: Sample[], from: number, idle: number, mb: number): number | null {
  let since: number | null = null
  for (const s of samples) {
    if (s.t < from) continue
    if (s.rssMb <= idle + mb) since ??= s.t
    else since = null
  }
  return since === null ? null : Math.max(0, since - from)
}

// ---- one row -------------------------------------------------------------------------------------

export async function runRow(v: Variant, o: HostileOptions, progress: Progress, output: NodeJS.WritableStream): Promise<RowResult> {
  const started = performance.now()
  const procs: NodeProc[] = []
  const row: RowResult = {
    id: v.id,
    attack: v.attack,
    transport: v.transport,
    label: v.label,
    startedAt: new Date().toISOString(),
    loadStart: load1(),
    loadEnd: 0,
    durationMs: 0,
    attackMs: 0,
    afterMs: 0,
    victim: {
      idleRssMb: 0,
      peakRssMb: 0,
      afterRssMb: 0,
      backWithinMs: null,
      idleFds: 0,
      peakFds: 0,
      peakSynSent: null,
      cpuAttackSec: 0,
      cpuAfterSec: 0,
      exited: null,
      stats: null,
    },
    pings: null,
    probes: [],
    probeTimeoutMs: v.probeTimeoutMs ?? o.probeTimeoutMs,
    attacker: {},
    figures: {},
    samples: [],
    notes: [],
  }
  const tls = v.transport === 'tls' ? o.tls : undefined
  const spawn = async (config: HostileNodeConfig, main = NODE_MAIN, wrap?: string[]): Promise<NodeProc> => {
    const p = await spawnNode({
      net: LOOPBACK,
      slot: SLOT,
      name: config.name,
      main,
      config,
      output,
      timeoutMs: 60_000,
      ...(wrap !== undefined ? { wrap } : {}),
    })
    procs.push(p)
    return p
  }
  const base = { transport: v.transport, ...(tls !== undefined ? { tls } : {}) }
  let sampler: Sampler | undefined
  let attackerProc: NodeProc | undefined
  let victimProc: NodeProc | undefined
  let leftCrash = false
  try {
    progress.status(`${v.label}: starting the victim, peer, newcomer and attacker`)
    const victim = await spawn(
      { role: 'victim', name: 'Victim', ...base },
      NODE_MAIN,
      v.nofile !== undefined ? ['prlimit', `--nofile=${v.nofile}:${v.nofile}`, '--'] : undefined,
    )
    victimProc = victim
    const [peer, newcomer, attacker] = await Promise.all([
      spawn({ role: 'peer', name: 'Peer', ...base }),
      spawn({ role: 'newcomer', name: 'Newcomer', ...base }),
      spawn({ role: 'peer', name: 'Attacker', ...base }, ATTACKER_MAIN), // its config is not read
    ])
    attackerProc = attacker
    const echo = `${victim.address}/user/echo`
    await peer.command('ping', { path: echo, intervalMs: o.pingIntervalMs, timeoutMs: o.pingTimeoutMs, lateMs: o.pingLateMs }, 30_000)

    const s = new Sampler(victim.pid, v.transport !== 'udp')
    sampler = s
    s.start()
    progress.status(`${v.label}: idle`)
    await sleep(2500)
    const idle = s.samples.slice(-8)
    row.victim.idleRssMb = median(idle.map((x) => x.rssMb))
    row.victim.idleFds = median(idle.map((x) => x.fds))
    const peakReset = resetPeak(victim.pid)
    if (!peakReset) row.notes.push('peak RSS from the 200 ms samples (the kernel peak could not be reset: not root?)')

    // ---- the attack
    const origin = performance.now()
    const cpu0 = cpuSec(victim.pid) ?? 0
    let probing = true
    let leftAt = Number.POSITIVE_INFINITY
    const probeTimeout = row.probeTimeoutMs
    const probeLoop = (async () => {
      await sleep(v.probeDelayMs ?? 0)
      while (probing && victim.alive) {
        const now = performance.now()
        const at = Math.round(now - origin)
        const phase = now < leftAt ? 'attack' : 'after'
        try {
          const r = await newcomer.command<{ ok: boolean; ms: number; error?: string }>(
            'probe',
            { path: echo, timeoutMs: probeTimeout },
            probeTimeout + 30_000,
          )
          row.probes.push({ ...r, at, phase })
        } catch (err) {
          row.probes.push({ ok: false, ms: Math.round(performance.now() - origin) - at, at, phase, error: (err as Error).message })
        }
        await sleep(500)
      }
    })()
    const ctx: RowContext = {
      o,
      victim,
      attacker,
      attackerResults: row.attacker,
      figures: row.figures,
      notes: row.notes,
      spawn: (config) => spawn(config),
    }
    progress.status(`${v.label}: attack`)
    try {
      await v.run(ctx)
    } catch (err) {
      row.error = `attack: ${(err as Error).message}`
    }
    leftAt = performance.now()
    row.attackMs = Math.round(leftAt - origin)
    const cpu1 = cpuSec(victim.pid) ?? cpu0
    row.victim.cpuAttackSec = Math.round((cpu1 - cpu0) * 100) / 100

    // ---- after the attackers left
    progress.status(`${v.label}: after the attack`)
    const afterStart = performance.now()
    while (victim.alive && performance.now() - afterStart < o.afterMs) {
      await sleep(500)
      if (o.settledMs <= 0 || v.wholeAfter === true) continue
      const now = performance.now()
      if (now - leftAt < o.settledMs) continue
      const recent = s.between(now - o.settledMs, now)
      const settled =
        recent.length > 0 &&
        recent.every((x) => x.rssMb <= row.victim.idleRssMb + 20 && x.fds <= row.victim.idleFds + 16 && (x.synSent ?? 0) === 0)
      if (settled) break
    }
    probing = false
    await probeLoop
    row.afterMs = Math.round(performance.now() - afterStart)
    row.victim.cpuAfterSec = Math.round(((cpuSec(victim.pid) ?? cpu1) - cpu1) * 100) / 100
    s.stop()
    await sleep(250) // the last ss
    if (v.after !== undefined) {
      try {
        await v.after(ctx)
      } catch (err) {
        row.error ??= `after: ${(err as Error).message}`
      }
    }
    const all = s.since(origin)
    const attackSamples = all.filter((x) => x.t >= 0)
    const hwm = peakReset ? statusKb(victim.pid, 'VmHWM') : null
    row.victim.peakRssMb = Math.max(hwm !== null ? Math.round(hwm / 102.4) / 10 : 0, ...attackSamples.map((x) => x.rssMb))
    row.victim.afterRssMb = attackSamples.at(-1)?.rssMb ?? 0
    row.victim.backWithinMs = backWithin(attackSamples, row.attackMs, row.victim.idleRssMb, 20)
    row.victim.peakFds = Math.max(0, ...attackSamples.map((x) => x.fds))
    const ss = attackSamples.filter((x) => x.synSent !== undefined).map((x) => x.synSent as number)
    row.victim.peakSynSent = ss.length === 0 ? null : Math.max(...ss)
    row.samples = all

    // ---- what the legitimate association and the victim say
    row.pings = await peer.command<PingStats | null>('pingStop', {}, o.pingTimeoutMs + 30_000).catch((err: Error) => {
      row.notes.push(`peer: ${err.message}`)
      return null
    })
    if (victim.alive) row.victim.stats = await victim.command<VictimStats>('stats', {}, 30_000).catch(() => null)
    if (victim.alive) row.victim.collected = await victim.command<CollectedMemory>('collect', {}, 30_000).catch(() => null)
    leftCrash = !victim.alive
  } catch (err) {
    row.error = (err as Error).stack ?? (err as Error).message
  } finally {
    sampler?.stop()
    if (victimProc !== undefined && (leftCrash || !victimProc.alive)) {
      row.victim.exited = victimProc.exitReason ?? 'exited'
      row.victim.exitOutput = victimProc.outputTail.slice(-2000)
    }
    if (attackerProc?.alive) await attackerProc.command('close', {}, 30_000).catch(() => undefined)
    for (const p of procs) if (p.alive) p.signal('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    row.loadEnd = load1()
    row.durationMs = Math.round(performance.now() - started)
  }
  return row
}
