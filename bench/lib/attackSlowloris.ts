/**
 * Slow-loris against a node: many connections that never finish their handshake, each opened
 * again as soon as the node closes it, and what a new node experiences meanwhile.
 *
 * - {@link slowloris}: the attack alone (for bench:hostile and the tests): `connections`
 *   connections to `host:port`, optionally from `localAddress` (127.0.0.2, ... on loopback, so that
 *   the target sees another source than its legitimate peers), each sending nothing (or the first
 *   bytes of a preamble) and re-opened as soon as it closes.
 * - {@link measureSlowloris}: the measurement. A target node in a process of its own (tcp or tls,
 *   an echo actor), the attack in another, and in this one: an old node associated before the
 *   attack that keeps pinging, and new nodes (from 127.0.0.1) started one after the other during
 *   the attack, each timed from `ActorSystem.create` to the answer of its first `ask` (resolveOne +
 *   ask). The same is timed before the attack as the baseline. Also: the target's handshakeFailed
 *   events (and the occurrences they stand for), its descriptors, RSS and CPU, the attack's connect
 *   rate, and the load average.
 *
 *   npx tsx bench/lib/attackSlowloris.ts [--transport tcp|tls] [--connections 5000]
 *     [--attacker 127.0.0.2] [--newcomers 5] [--warmup-ms 3000] [--timeout-ms 10000]
 *     [--send nothing|partial-preamble] [--json]
 *
 * `--attacker 127.0.0.1` puts the attack on the new nodes' own source address (what a per-source
 * cap cannot tell apart).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { ActorSystem, type RemoteOptions } from '@helios/actors'
import { encodePreamble, Lane } from '@helios/codec'
import { devCertificates } from '@helios/transport/testing'

/** Options of {@link slowloris}. */
export interface SlowlorisOptions {
  readonly host: string
  readonly port: number
  /** Connections kept open (re-opened as they close). Default 5,000. */
  readonly connections?: number
  /** Source address of the connections (e.g. 127.0.0.2). Default: the system's choice. */
  readonly localAddress?: string
  /** What a connection sends once connected: nothing (default), or the first 3 bytes of a preamble. */
  readonly send?: 'nothing' | 'partial-preamble'
  /** Delay before a closed connection is opened again. Default 0 (at once). */
  readonly reopenDelayMs?: number
}

/** What the attack did so far. */
export interface SlowlorisStats {
  readonly elapsedMs: number
  /** Connections established (TCP connect completed). */
  readonly connects: number
  /** Connections that the target closed (or reset) after they connected. */
  readonly closedByTarget: number
  /** Open right now. */
  readonly open: number
  /** Connect attempts that failed, by error code. */
  readonly connectErrors: Readonly<Record<string, number>>
  /** Median time from connect to close of the connections closed so far (sampled), ms. */
  readonly medianLifetimeMs: number | null
  readonly connectsPerSecond: number
}

/** A running attack. */
export interface Slowloris {
  stats(): SlowlorisStats
  /** Stops re-opening, destroys every connection, and returns the final figures. */
  stop(): Promise<SlowlorisStats>
}

const LIFETIME_SAMPLES = 10_000

/** Starts a slow-loris (see the module comment). */
export function slowloris(o: SlowlorisOptions): Slowloris {
  const n = o.connections ?? 5000
  const started = performance.now()
  const sockets = new Set<Socket>()
  const errors: Record<string, number> = {}
  const lifetimes: number[] = []
  let connects = 0
  let closedByTarget = 0
  let stopped = false
  const preamble = encodePreamble(Lane.control).subarray(0, 3)

  const open = (): void => {
    if (stopped) return
    const s = connect({ host: o.host, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
    sockets.add(s)
    let connectedAt = 0
    s.on('connect', () => {
      connects++
      connectedAt = performance.now()
      if (o.send === 'partial-preamble') s.write(preamble)
    })
    s.on('data', () => {}) // read (and ignore) whatever the target writes back
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (connectedAt === 0) errors[err.code ?? err.message] = (errors[err.code ?? err.message] ?? 0) + 1
    })
    s.on('close', () => {
      sockets.delete(s)
      if (stopped) return
      if (connectedAt !== 0) {
        closedByTarget++
        const life = performance.now() - connectedAt
        if (lifetimes.length < LIFETIME_SAMPLES) lifetimes.push(life)
        else lifetimes[Math.floor(Math.random() * LIFETIME_SAMPLES)] = life
      }
      if (o.reopenDelayMs !== undefined && o.reopenDelayMs > 0) setTimeout(open, o.reopenDelayMs)
      else setImmediate(open)
    })
  }
  for (let i = 0; i < n; i++) open()

  const stats = (): SlowlorisStats => {
    const elapsedMs = performance.now() - started
    const sorted = [...lifetimes].sort((a, b) => a - b)
    return {
      elapsedMs: Math.round(elapsedMs),
      connects,
      closedByTarget,
      open: sockets.size,
      connectErrors: { ...errors },
      medianLifetimeMs: sorted.length === 0 ? null : Math.round(sorted[Math.floor(sorted.length / 2)] as number),
      connectsPerSecond: Math.round((connects / elapsedMs) * 1000),
    }
  }
  return {
    stats,
    async stop() {
      const s = stats()
      stopped = true
      for (const socket of sockets) socket.destroy()
      await new Promise((r) => setTimeout(r, 50))
      return s
    },
  }
}

// ------------------------------------------------------------------ the measurement

/** Options of {@link measureSlowloris}. */
export interface MeasureSlowlorisOptions {
  readonly transport?: 'tcp' | 'tls'
  readonly connections?: number
  /** The attack's source address. Default 127.0.0.2 (the new nodes come from 127.0.0.1). */
  readonly attacker?: string
  /** New nodes started during the attack, one after the other. Default 5. */
  readonly newcomers?: number
  /** Attack time before the first new node. Default 3,000 ms. */
  readonly warmupMs?: number
  /** A new node that did not get its answer within this is counted as failed. Default 10,000 ms. */
  readonly timeoutMs?: number
  readonly send?: SlowlorisOptions['send']
  /** Remote options of the target beyond transport, host, port and tls. */
  readonly target?: Partial<RemoteOptions>
  /** Progress lines go here. Default stderr. */
  readonly log?: (line: string) => void
}

/** What the target process reports. */
export interface TargetStats {
  /** handshakeFailed events published. */
  readonly handshakeFailedEvents: number
  /** Occurrences they stand for (the sum of their `count`, 1 when absent). */
  readonly handshakeFailedOccurrences: number
  readonly associatedEvents: number
  readonly fds: number
  readonly rssMb: number
  /** CPU time of the target process since the previous report, as a share of one core. */
  readonly cpuShare: number
}

/** The figures of one run of {@link measureSlowloris}. */
export interface SlowlorisResult {
  readonly transport: 'tcp' | 'tls'
  readonly connections: number
  readonly attacker: string
  /** Load average (1 min) before and after the run. */
  readonly loadBefore: number
  readonly loadAfter: number
  /** Time for a new node to get its first answer without the attack, ms (one per node). */
  readonly baselineMs: readonly number[]
  /** The same during the attack; null: no answer within the timeout. */
  readonly underAttackMs: readonly (number | null)[]
  /** The old node's pings during the attack: answered and not. */
  readonly oldNodePings: { readonly answered: number; readonly failed: number }
  readonly attack: SlowlorisStats
  /** The target before the attack and at its end. */
  readonly targetIdle: TargetStats
  readonly targetUnderAttack: TargetStats
}

type ToChild = { type: 'stats'; id: number } | { type: 'stop'; id: number }
type FromChild =
  | { type: 'ready'; address: string; port: number }
  | { type: 'stats'; id: number; stats: unknown }
  | { type: 'stopped'; id: number; stats: unknown }

const self = fileURLToPath(import.meta.url)

function spawnChild(mode: string, config: unknown): Promise<{ child: ChildProcess; ready: Extract<FromChild, { type: 'ready' }> }> {
  const child = fork(self, [mode, JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} did not start within 30 s`)), 30_000)
    child.on('message', (m: FromChild) => {
      if (m.type !== 'ready') return
      clearTimeout(timer)
      resolve({ child, ready: m })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${mode} exited with ${code}`))
    })
  })
}

let requestId = 0
function request<T>(child: ChildProcess, type: ToChild['type']): Promise<T> {
  const id = ++requestId
  return new Promise((resolve) => {
    const on = (m: FromChild): void => {
      if (m.type !== 'ready' && m.id === id) {
        child.off('message', on)
        resolve(m.stats as T)
      }
    }
    child.on('message', on)
    child.send({ type, id } satisfies ToChild)
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Runs the measurement described in the module comment. */
export async function measureSlowloris(o: MeasureSlowlorisOptions = {}): Promise<SlowlorisResult> {
  const transport = o.transport ?? 'tcp'
  const connections = o.connections ?? 5000
  const attacker = o.attacker ?? '127.0.0.2'
  const newcomers = o.newcomers ?? 5
  const timeoutMs = o.timeoutMs ?? 10_000
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`))
  const tls = transport === 'tls' ? devCertificates() : undefined
  const tlsOptions = tls !== undefined ? { key: tls.key, cert: tls.cert, ca: tls.ca } : undefined
  const loadBefore = loadavg()[0] as number

  const { child: target, ready } = await spawnChild('--target', { transport, tls: tlsOptions, remote: o.target ?? {} })
  const targetPath = `${ready.address}/user/echo`
  const remote = (): RemoteOptions => ({ transport, host: '127.0.0.1', port: 0, ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}) })
  const attempt = async (i: number): Promise<number | null> => {
    const started = performance.now()
    const node = await ActorSystem.create(`New${i}`, { logger: 'silent', remote: remote() })
    try {
      const echo = await node.actorSelection(targetPath).resolveOne({ timeoutMs })
      const left = timeoutMs - (performance.now() - started)
      if (left <= 0) return null
      await node.ask(echo, 'hello', { timeoutMs: left })
      return Math.round(performance.now() - started)
    } catch {
      return null
    } finally {
      await node.terminate()
    }
  }
  try {
    const baselineMs: number[] = []
    for (let i = 0; i < 3; i++) baselineMs.push((await attempt(i)) ?? Number.NaN)
    log(`baseline (no attack): ${baselineMs.join(', ')} ms`)

    const old = await ActorSystem.create('Old', { logger: 'silent', remote: remote() })
    const oldEcho = await old.actorSelection(targetPath).resolveOne({ timeoutMs: 5000 })
    const pings = { answered: 0, failed: 0 }
    let pinging = true
    const pinger = (async () => {
      while (pinging) {
        try {
          await old.ask(oldEcho, 'ping', { timeoutMs: 2000 })
          pings.answered++
        } catch {
          pings.failed++
        }
        await sleep(50)
      }
    })()

    const targetIdle = await request<TargetStats>(target, 'stats')
    const { child: attack } = await spawnChild('--attack', {
      host: '127.0.0.1',
      port: ready.port,
      connections,
      localAddress: attacker,
      send: o.send ?? 'nothing',
    } satisfies SlowlorisOptions)
    log(`attack: ${connections} connections from ${attacker} on ${transport}`)
    await sleep(o.warmupMs ?? 3000)
    const underAttackMs: (number | null)[] = []
    for (let i = 0; i < newcomers; i++) {
      const ms = await attempt(100 + i)
      underAttackMs.push(ms)
      const a = await request<SlowlorisStats>(attack, 'stats')
      log(
        `new node ${i + 1}/${newcomers}: ${ms === null ? `no answer within ${timeoutMs} ms` : `${ms} ms`} (attack: ${a.open} open, ${a.connectsPerSecond} connects/s)`,
      )
      await sleep(500)
    }
    const targetUnderAttack = await request<TargetStats>(target, 'stats')
    const attackStats = await request<SlowlorisStats>(attack, 'stop')
    attack.kill()
    pinging = false
    await pinger
    await old.terminate()
    return {
      transport,
      connections,
      attacker,
      loadBefore,
      loadAfter: loadavg()[0] as number,
      baselineMs,
      underAttackMs,
      oldNodePings: pings,
      attack: attackStats,
      targetIdle,
      targetUnderAttack,
    }
  } finally {
    target.kill()
  }
}

// ------------------------------------------------------------------ child processes and main

async function runTarget(config: { transport: 'tcp' | 'tls'; tls?: RemoteOptions['tls']; remote: Partial<RemoteOptions> }): Promise<void> {
  const system = await ActorSystem.create('Target', {
    logger: 'silent',
    remote: { transport: config.transport, host: '127.0.0.1', port: 0, ...(config.tls ? { tls: config.tls } : {}), ...config.remote },
  })
  system.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  let events = 0
  let occurrences = 0
  let associated = 0
  system.events.on('handshakeFailed', (e) => {
    events++
    occurrences += (e as { count?: number }).count ?? 1
  })
  system.events.on('associated', () => associated++)
  let cpu = process.cpuUsage()
  let at = performance.now()
  process.on('message', (m: ToChild) => {
    if (m.type !== 'stats') return
    const used = process.cpuUsage(cpu)
    const now = performance.now()
    const cpuShare = Math.round(((used.user + used.system) / 1000 / (now - at)) * 100) / 100
    cpu = process.cpuUsage()
    at = now
    const stats: TargetStats = {
      handshakeFailedEvents: events,
      handshakeFailedOccurrences: occurrences,
      associatedEvents: associated,
      fds: readdirSync('/proc/self/fd').length,
      rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
      cpuShare,
    }
    process.send?.({ type: 'stats', id: m.id, stats } satisfies FromChild)
  })
  process.on('disconnect', () => process.exit(0))
  process.send?.({ type: 'ready', address: system.address.toString(), port: system.address.port as number } satisfies FromChild)
}

function runAttack(config: SlowlorisOptions): void {
  const attack = slowloris(config)
  process.on('message', async (m: ToChild) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', id: m.id, stats: attack.stats() } satisfies FromChild)
    else if (m.type === 'stop') process.send?.({ type: 'stopped', id: m.id, stats: await attack.stop() } satisfies FromChild)
  })
  process.on('disconnect', () => process.exit(0))
  process.send?.({ type: 'ready', address: '', port: 0 } satisfies FromChild)
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const mode = process.argv[2]
  if (mode === '--target') await runTarget(JSON.parse(process.argv[3] as string))
  else if (mode === '--attack') runAttack(JSON.parse(process.argv[3] as string))
  else {
    const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)))
    const r = await measureSlowloris({
      transport: (arg('transport') as 'tcp' | 'tls' | undefined) ?? 'tcp',
      ...(num('connections') !== undefined ? { connections: num('connections') as number } : {}),
      ...(arg('attacker') !== undefined ? { attacker: arg('attacker') as string } : {}),
      ...(num('newcomers') !== undefined ? { newcomers: num('newcomers') as number } : {}),
      ...(num('warmup-ms') !== undefined ? { warmupMs: num('warmup-ms') as number } : {}),
      ...(num('timeout-ms') !== undefined ? { timeoutMs: num('timeout-ms') as number } : {}),
      ...(arg('send') !== undefined ? { send: arg('send') as SlowlorisOptions['send'] } : {}),
    })
    if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2))
    else {
      const ok = r.underAttackMs.filter((x): x is number => x !== null)
      console.log(
        [
          `slow-loris over ${r.transport}: ${r.connections} connections from ${r.attacker}, re-opened as closed`,
          `  load average (1 min): ${r.loadBefore.toFixed(2)} before, ${r.loadAfter.toFixed(2)} after`,
          `  new node, no attack:   ${r.baselineMs.join(', ')} ms`,
          `  new node, under attack: ${r.underAttackMs.map((x) => (x === null ? 'timeout' : `${x}`)).join(', ')} ms (${ok.length}/${r.underAttackMs.length} answered, max ${ok.length ? Math.max(...ok) : '-'} ms)`,
          `  old node's pings: ${r.oldNodePings.answered} answered, ${r.oldNodePings.failed} failed`,
          `  attack: ${r.attack.connects} connects (${r.attack.connectsPerSecond}/s), median lifetime ${r.attack.medianLifetimeMs} ms, ${r.attack.open} open at the end, connect errors ${JSON.stringify(r.attack.connectErrors)}`,
          `  target idle: ${r.targetIdle.fds} fds, ${r.targetIdle.rssMb} MB RSS`,
          `  target under attack: ${r.targetUnderAttack.fds} fds, ${r.targetUnderAttack.rssMb} MB RSS, CPU ${r.targetUnderAttack.cpuShare} of a core, handshakeFailed events ${r.targetUnderAttack.handshakeFailedEvents - r.targetIdle.handshakeFailedEvents} for ${r.targetUnderAttack.handshakeFailedOccurrences - r.targetIdle.handshakeFailedOccurrences} refusals`,
        ].join('\n'),
      )
    }
    process.exit(0)
  }
}
