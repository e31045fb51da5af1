/**
 * The Helios demo: two actor systems in two processes on 127.0.0.1 play ping-pong over remoting.
 *
 *   npx -y pnpm@12.4.2 demo                          # TCP, 3 s
 *   npx -y pnpm@12.4.2 demo -- --transport tls       # or udp, or dtls; tls and dtls make a throwaway CA in a temp dir
 *   npx -y pnpm@12.4.2 demo -- --seconds 5 --window 128 --kill
 *
 * This process is "ping"; it forks itself with `--role pong` (same execArgv, so tsx carries over).
 * Ping resolves pong's actor, watches it, keeps `--window` messages in flight for `--seconds`,
 * then prints messages/s and the p50/p99 round trip. Then pong's node goes away: gracefully
 * (`system.terminate()`, its actors' watchers are told) or, with `--kill`, by SIGKILL: over tcp and
 * tls the reset connection and the refused reconnect prove it gone within milliseconds, over udp the
 * port unreachable that answers the next heartbeat does, over dtls only the failure detector can
 * notice. Either way ping prints the Terminated it got and exits 0; it
 * exits 1 when anything failed, and never leaves the pong process behind.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ensureDevCertificates, readDevCertificates } from '@helios/transport/testing'
import { ActorSystem, Terminated, type ActorRef, type RemoteOptions } from '../src/index.js'

const HOST = '127.0.0.1'
/** A reply not back after this long is counted as lost (UDP carries user messages at most once) and replaced. */
const LOSS_TIMEOUT_MS = 1000
/** After the run, how long replies still in flight are waited for. */
const DRAIN_TIMEOUT_MS = 2000
/** Generous bound for the whole demo on a loaded machine, on top of `--seconds`. */
const WATCHDOG_MS = 12_000

const USAGE = `usage: demo [--transport tcp|tls|udp|dtls] [--seconds N] [--window N] [--kill]
  --transport  remoting transport (default tcp)
  --seconds    how long to play ping-pong (default 3)
  --window     messages in flight (default 64)
  --kill       SIGKILL the pong process instead of terminating its system: shows crash detection`

interface DemoOptions {
  readonly role: 'ping' | 'pong'
  readonly transport: 'tcp' | 'tls' | 'udp' | 'dtls'
  readonly seconds: number
  readonly window: number
  readonly kill: boolean
  readonly certs: string | undefined
}

function parseOptions(argv: string[]): DemoOptions {
  // `pnpm demo -- --kill` passes the `--` on; it is not the end of our options.
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    options: {
      role: { type: 'string', default: 'ping' },
      transport: { type: 'string', default: 'tcp' },
      seconds: { type: 'string', default: '3' },
      window: { type: 'string', default: '64' },
      kill: { type: 'boolean', default: false },
      certs: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const seconds = Number(values.seconds)
  const window = Number(values.window)
  const fail = (why: string): never => {
    console.error(`demo: ${why}\n${USAGE}`)
    process.exit(2)
  }
  if (values.role !== 'ping' && values.role !== 'pong') fail(`unknown role ${values.role}`)
  if (!['tcp', 'tls', 'udp', 'dtls'].includes(values.transport)) fail(`unknown transport ${values.transport}`)
  if (!(seconds > 0 && seconds <= 60)) fail('--seconds must be in (0, 60]')
  if (!(Number.isInteger(window) && window >= 1 && window <= 10_000)) fail('--window must be an integer in 1..10000')
  return {
    role: values.role as 'ping' | 'pong',
    transport: values.transport as 'tcp' | 'tls' | 'udp' | 'dtls',
    seconds,
    window,
    kill: values.kill,
    certs: values.certs,
  }
}

/**
 * Both nodes use a fast failure detector (heartbeats every 200 ms, 1.5 s of acceptable pause) so
 * that a killed node is declared down in about two seconds instead of Akka's ten where nothing
 * else can tell (dtls; over tcp and tls a refused reconnect tells at once, over udp a port
 * unreachable).
 */
function remoteOptions(options: DemoOptions): RemoteOptions {
  return {
    transport: options.transport,
    host: HOST,
    port: 0,
    heartbeatIntervalMs: 200,
    failureDetector: { threshold: 8, acceptableHeartbeatPauseMs: 1500, minStdDeviationMs: 100 },
    shutdownFlushTimeoutMs: 1000,
    // every node has the same certificate, trusts the same CA, and asks its peers for theirs
    ...(options.certs !== undefined ? { tls: { ...readDevCertificates(options.certs), requestCert: true } } : {}),
  }
}

// ---------------------------------------------------------------------------------------- pong

/** The forked node: an echo actor at /user/pong; reports its address, stops on 'stop'. */
async function pong(options: DemoOptions): Promise<void> {
  const system = await ActorSystem.create('pong', { remote: remoteOptions(options) })
  system.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'pong')
  system.events.on('associated', (e) => console.log(`pong: associated with ${e.remote.toString()}`))
  // The parent is gone (it exited or was killed): nothing left to play with.
  process.once('disconnect', () => process.exit(0))
  process.on('message', (message) => {
    if (message !== 'stop') return
    console.log('pong: shutting down: system.terminate()')
    system.terminate().then(
      () => {
        console.log('pong: actor system terminated, exiting')
        process.exit(0)
      },
      (error: unknown) => {
        console.error('pong: terminate failed:', error)
        process.exit(1)
      },
    )
  })
  console.log(`pong: listening at ${system.address.toString()} (pid ${process.pid})`)
  process.send?.({ address: system.address.toString() })
}

// ---------------------------------------------------------------------------------------- ping

/** Resolves with pong's address once its node is up; rejects if it exits or takes too long. */
function pongReady(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pong did not start within ${timeoutMs} ms`)), timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`pong exited before it was ready (${signal ?? code})`))
    })
    child.once('message', (message) => {
      clearTimeout(timer)
      resolve((message as { address: string }).address)
    })
  })
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

/** Nearest-rank percentile of ascending `sorted` (NaN when empty). */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => (Number.isNaN(n) ? 'n/a' : `${n.toFixed(n < 10 ? 2 : 1)} ms`)

/**
 * The ping-pong driver, as an actor: on 'start' it watches pong and fills the window; every reply
 * records a round trip and, while the run lasts, sends the next ping. Messages are sequence numbers;
 * `sentAt` maps the ones in flight to their send time (Map order is send order).
 */
class PingPong {
  readonly sentAt = new Map<number, number>()
  /** Round-trip times in ms, in arrival order. */
  readonly rtts: number[] = []
  lost = 0
  sending = true
  #nextSeq = 1
  #drained: (() => void) | undefined
  readonly terminated: Promise<{ message: Terminated; at: number }>
  #onTerminated!: (t: { message: Terminated; at: number }) => void
  readonly ref: ActorRef

  constructor(
    system: ActorSystem,
    readonly pong: ActorRef,
    readonly window: number,
  ) {
    this.terminated = new Promise((resolve) => {
      this.#onTerminated = resolve
    })
    this.ref = system.actorOf((message, ctx) => {
      if (typeof message === 'number') this.#reply(message)
      else if (message instanceof Terminated) this.#onTerminated({ message, at: performance.now() })
      else if (message === 'start') {
        ctx.watch(this.pong)
        for (let i = 0; i < this.window; i++) this.#send()
      }
    }, 'ping')
  }

  #send(): void {
    const seq = this.#nextSeq++
    this.sentAt.set(seq, performance.now())
    this.pong.tell(seq, this.ref)
  }

  #reply(seq: number): void {
    const sent = this.sentAt.get(seq)
    if (sent === undefined) return // already counted as lost
    this.sentAt.delete(seq)
    this.rtts.push(performance.now() - sent)
    if (this.sending) this.#send()
    else if (this.sentAt.size === 0) this.#drained?.()
  }

  /** Counts pings older than the loss timeout as lost and sends one new ping for each. */
  expire(now: number): void {
    for (const [seq, sent] of this.sentAt) {
      if (now - sent < LOSS_TIMEOUT_MS) break
      this.sentAt.delete(seq)
      this.lost++
      if (this.sending) this.#send()
    }
  }

  /** Stops sending; resolves once every ping in flight came back or after `timeoutMs` (the rest are lost). */
  drain(timeoutMs: number): Promise<void> {
    this.sending = false
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.lost += this.sentAt.size
        this.sentAt.clear()
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.#drained = done
      if (this.sentAt.size === 0) done()
    })
  }
}

async function ping(options: DemoOptions): Promise<boolean> {
  const mode = options.kill ? 'then SIGKILL pong' : 'then stop pong gracefully'
  console.log(`helios demo: ping-pong over ${options.transport}, ${options.seconds} s, ${options.window} in flight, ${mode}`)
  let certs: string | undefined
  if (options.transport === 'tls' || options.transport === 'dtls') {
    const dir = mkdtempSync(join(tmpdir(), 'helios-demo-certs-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    certs = join(dir, 'certs')
    ensureDevCertificates(certs, { days: 1 })
    console.log(`ping: made a throwaway CA and node certificate in ${dir} (removed at exit)`)
  }
  const childArgs = ['--role', 'pong', '--transport', options.transport, ...(certs !== undefined ? ['--certs', certs] : [])]
  const child = fork(fileURLToPath(import.meta.url), childArgs, {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 0)))
  process.once('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  const self = { ...options, certs }
  // ping prints the events it gets itself (below): its logger writes errors only.
  const [system, pongAddress] = await Promise.all([
    ActorSystem.create('ping', { logger: 'error', remote: remoteOptions(self) }),
    pongReady(child, 10_000),
  ])
  let stoppedAt = Number.NaN
  const since = (): string => (Number.isNaN(stoppedAt) ? '' : ` (+${(performance.now() - stoppedAt).toFixed(0)} ms)`)
  system.events
    .on('associated', (e) => console.log(`ping: associated with ${e.remote.toString()}`))
    .on('disassociated', (e) => console.log(`ping: disassociated from ${e.remote.toString()}: ${e.reason}${since()}`))
    .on('unreachable', (e) => console.log(`ping: ${e.remote.toString()} is unreachable, phi ${e.phi.toFixed(1)}${since()}`))
    .on('quarantined', (e) => console.log(`ping: quarantined ${e.remote.toString()}: ${e.reason}${since()}`))
    .on('handshakeFailed', (e) => console.error(`ping: handshake with ${e.remote} failed: ${e.reason}`))
  // Nothing may be dropped while both nodes live. Once pong is gone, what ping sent in its last
  // heartbeat interval is reported as unconfirmed (delivered or lost: remoting cannot know).
  let dropped = 0
  system.events.on('dropped', (e) => {
    if (Number.isNaN(stoppedAt)) dropped++
    else console.log(`ping: ${e.reason}${since()}`)
  })
  try {
    const pongRef = await system.actorSelection(`${pongAddress}/user/pong`).resolveOne({ timeoutMs: 5000 })
    console.log(`ping: resolved ${pongRef.path.toString()}, watching it`)
    const run = new PingPong(system, pongRef, options.window)
    const expiry = setInterval(() => run.expire(performance.now()), 250)
    const start = performance.now()
    run.ref.tell('start')
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000))
    const elapsed = (performance.now() - start) / 1000
    const completed = run.rtts.length
    await run.drain(DRAIN_TIMEOUT_MS)
    clearInterval(expiry)
    const association = system.associations().find((a) => a.remote.toString() === pongAddress)

    const sorted = Float64Array.from(run.rtts).sort()
    const rows: [string, string][] = [
      ['round trips', `${count(completed)} in ${elapsed.toFixed(2)} s`],
      ['round trips/s', count(completed / elapsed)],
      ['msgs/s', `${count((2 * completed) / elapsed)}  (pings + pongs)`],
      ['p50 round trip', ms(percentile(sorted, 50))],
      ['p99 round trip', ms(percentile(sorted, 99))],
      ['max round trip', ms(sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN)],
      [
        'lost',
        `${count(run.lost)}${options.transport === 'udp' || options.transport === 'dtls' ? `  (${options.transport}: user messages at most once)` : ''}`,
      ],
    ]
    if (association !== undefined) {
      rows.push([
        'association',
        `${count(association.messagesSent)} msgs / ${(association.bytesSent / 1e6).toFixed(1)} MB out, ` +
          `${count(association.messagesReceived)} msgs / ${(association.bytesReceived / 1e6).toFixed(1)} MB in, ${count(association.dropped)} dropped`,
      ])
    }
    console.log('')
    for (const [name, value] of rows) console.log(`  ${name.padEnd(16)} ${value}`)
    console.log('')

    stoppedAt = performance.now()
    if (options.kill) {
      console.log(
        `ping: SIGKILL to pong (pid ${child.pid}): no goodbye; ${options.transport === 'dtls' ? 'the failure detector has to notice' : options.transport === 'udp' ? 'a port unreachable answering the next heartbeat proves it gone' : 'a refused reconnect proves it gone'}`,
      )
      child.kill('SIGKILL')
    } else {
      console.log('ping: asking pong to shut its node down')
      child.send('stop')
    }
    const { message, at } = await timeout(run.terminated, options.kill ? 8000 : 5000, 'no Terminated')
    const how = options.kill ? 'SIGKILL' : 'node shutdown'
    const why = message.addressTerminated ? ', node declared down' : ''
    console.log(`ping: Terminated(${message.ref.path.toString()}) after ${how}, ${(at - stoppedAt).toFixed(0)} ms later${why}`)
    const exit = await timeout(exited, 5000, 'pong did not exit')
    const ok = completed > 0 && (options.kill ? exit === 'SIGKILL' : exit === 0) && dropped === 0
    if (completed === 0) console.error('ping: no round trip completed')
    if (dropped > 0) console.error(`ping: remoting dropped ${dropped} messages`)
    if (!options.kill && exit !== 0) console.error(`ping: pong exited with ${exit}`)
    return ok
  } finally {
    await system.terminate()
  }
}

// ---------------------------------------------------------------------------------------- main

const options = parseOptions(process.argv.slice(2))
// Exit handlers (the child's SIGKILL, the temp dir) run on process.exit, not on a default signal death.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
if (options.role === 'pong') {
  await pong(options)
} else {
  setTimeout(
    () => {
      console.error(`demo: still running after ${options.seconds + WATCHDOG_MS / 1000} s, giving up`)
      process.exit(1)
    },
    options.seconds * 1000 + WATCHDOG_MS,
  ).unref()
  let ok = false
  try {
    ok = await ping(options)
  } catch (error) {
    console.error('demo failed:', error)
  }
  console.log(ok ? 'demo: ok' : 'demo: FAILED')
  process.exit(ok ? 0 : 1)
}
