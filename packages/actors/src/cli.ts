#!/usr/bin/env node
/**
 * The `helios` command line (the `bin` of @helios/actors): start a node with an echo actor, or
 * ping an actor on a node.
 *
 *   helios node [--name N] [--transport tcp|tls|udp|dtls] [--host H] [--port P]
 *   helios ping helios.tcp://node@127.0.0.1:2552/user/echo [--count N]
 *
 * (in this repository: `npx -y pnpm@12.4.2 helios node ...`, which runs this file with tsx).
 *
 * Over TLS and DTLS both commands use the CA and node certificate in `--certs DIR` (ca.crt, node.crt,
 * node.key), by default a development CA made in-process on first use in the temp directory
 * (@helios/transport/testing, no openssl needed), so that a `node` and a `ping` on the same machine
 * trust each other.
 *
 * Exit codes: 0 ok, 1 failure (an ask without reply, actor not found, bind error), 2 bad usage.
 * @packageDocumentation
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureDevCertificates, readDevCertificates } from '@helios/transport/testing'
import { ActorPath, ActorSystem, AskTimeoutError, HeliosActorError, type RemoteOptions } from './index.js'

type Transport = 'tcp' | 'tls' | 'udp' | 'dtls'

const USAGE = `usage:
  helios node [--name N] [--transport tcp|tls|udp|dtls] [--host H] [--port P] [--certs DIR]
      starts a node with an echo actor at /user/echo; prints its address and the events it sees
      until Ctrl-C. Defaults: --name node --transport tcp --host 127.0.0.1 --port 2552 (0: any free port)
  helios ping <actor path> [--count N] [--interval MS] [--timeout MS] [--transport T] [--host H] [--certs DIR]
      starts a throwaway node, resolves the path and asks the actor N times (default 3, every
      200 ms, 2000 ms timeout); prints each round trip and a summary. The transport comes from
      the path (helios.tcp|tls|udp|dtls://...). --host: the address this node binds and advertises,
      reachable from the target (default 127.0.0.1)
  --certs DIR  TLS and DTLS material: ca.crt, node.crt, node.key (default: a development CA made on
               first use in ${defaultCertsDir()})
  ping writes trouble (a refused connection, a refused handshake) to stderr; HELIOS_LOG_LEVEL=info
  shows more, =silent nothing`

/** Bad command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

function defaultCertsDir(): string {
  return join(tmpdir(), 'helios-dev-certs')
}

function parseTransport(value: string | undefined): Transport | undefined {
  if (value === undefined || value === 'tcp' || value === 'tls' || value === 'udp' || value === 'dtls') return value
  throw new UsageError(`unknown transport ${JSON.stringify(value)}`)
}

function parseInteger(name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!(Number.isInteger(n) && n >= min && n <= max)) throw new UsageError(`--${name} must be an integer in ${min}..${max}`)
  return n
}

function remoteOptions(
  transport: Transport,
  host: string,
  port: number,
  certs: string | undefined,
  log: (line: string) => void,
): RemoteOptions {
  let tls = {}
  if (transport === 'tls' || transport === 'dtls') {
    const dir = certs ?? defaultCertsDir()
    if (certs === undefined && ensureDevCertificates(dir)) log(`made a development CA and node certificate in ${dir}`)
    tls = { tls: { ...readDevCertificates(dir), requestCert: true } }
  }
  return { transport, host, port, shutdownFlushTimeoutMs: 500, ...tls }
}

const clock = (): string => new Date().toISOString().slice(11, 23)

// ---------------------------------------------------------------------------------------- node

async function node(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string', default: 'node' },
      transport: { type: 'string', default: 'tcp' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '2552' },
      certs: { type: 'string' },
    },
  })
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`)
  const transport = parseTransport(values.transport) as Transport
  const port = parseInteger('port', values.port, 0, 65535)
  const log = (line: string): void => console.log(`node: ${line}`)
  // Every event is printed below, with a timestamp: the logger would only repeat them.
  const system = await ActorSystem.create(values.name, {
    logger: 'silent',
    remote: remoteOptions(transport, values.host, port, values.certs, log),
  })
  const echo = system.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'echo')

  const event = (line: string): void => console.log(`node: ${clock()} ${line}`)
  system.events
    .on('associated', (e) => event(`associated with ${e.remote.toString()} (uid ${e.remoteUid})`))
    .on('disassociated', (e) => event(`disassociated from ${e.remote.toString()}: ${e.reason}`))
    .on('unreachable', (e) => event(`${e.remote.toString()} is unreachable (phi ${e.phi.toFixed(1)})`))
    .on('quarantined', (e) => event(`quarantined ${e.remote.toString()}: ${e.reason}`))
    .on('handshakeFailed', (e) => event(`${e.inbound ? 'inbound' : 'outbound'} handshake with ${e.remote} failed: ${e.reason}`))
    .on('dropped', (e) => event(`dropped a message to ${e.recipient ?? e.remote?.toString() ?? '?'}: ${e.reason}`))
    .on('deadLetter', (d) => event(`dead letter to ${d.recipient.path.toString()}`))
    .on('actorFailed', (e) => event(`actor ${e.ref.path.toString()} failed and was stopped: ${String(e.error)}`))

  log(`listening at ${system.address.toString()} (pid ${process.pid})`)
  log(`echo actor at ${echo.path.toString()}`)
  log(`try: helios ping ${echo.path.toString()}`)
  log('Ctrl-C to stop')

  // First Ctrl-C: a graceful shutdown (peers watching our actors are told); a second one: exit now.
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve())
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  log('stopping: system.terminate()')
  await system.terminate()
  log('stopped')
  return 0
}

// ---------------------------------------------------------------------------------------- ping

async function ping(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      count: { type: 'string', default: '3' },
      interval: { type: 'string', default: '200' },
      timeout: { type: 'string', default: '2000' },
      transport: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      certs: { type: 'string' },
    },
  })
  if (positionals.length !== 1) throw new UsageError('ping needs exactly one actor path, e.g. helios.tcp://node@127.0.0.1:2552/user/echo')
  const count = parseInteger('count', values.count, 1, 1_000_000)
  const intervalMs = parseInteger('interval', values.interval, 0, 3_600_000)
  const timeoutMs = parseInteger('timeout', values.timeout, 1, 3_600_000)
  let path: ActorPath
  try {
    path = ActorPath.parse(positionals[0] as string)
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  if (path.address.isLocal) throw new UsageError(`${path.toString()} is not a remote path (helios.tcp|tls|udp|dtls://system@host:port/...)`)
  const transport = path.address.protocol.slice('helios.'.length) as Transport
  const asked = parseTransport(values.transport)
  if (asked !== undefined && asked !== transport)
    throw new UsageError(`--transport ${asked} does not match the path's ${path.address.protocol}`)

  const log = (line: string): void => console.log(`ping: ${line}`)
  // Trouble (a refused connection, a refused handshake) goes to stderr through the default logger.
  const system = await ActorSystem.create(`ping-${process.pid}`, { remote: remoteOptions(transport, values.host, 0, values.certs, log) })
  try {
    const resolveStart = performance.now()
    const ref = await system.actorSelection(path).resolveOne({ timeoutMs: Math.max(timeoutMs, 5000) })
    log(`resolved ${ref.path.toString()} from ${system.address.toString()} in ${(performance.now() - resolveStart).toFixed(1)} ms`)

    const rtts: number[] = []
    for (let seq = 1; seq <= count; seq++) {
      if (seq > 1 && intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs))
      const start = performance.now()
      try {
        const reply = await system.ask<{ seq?: unknown }>(ref, { seq }, { timeoutMs })
        const rtt = performance.now() - start
        if (reply?.seq !== seq) {
          log(`seq=${seq}: unexpected reply ${JSON.stringify(reply)}`)
          continue
        }
        rtts.push(rtt)
        log(`reply from ${ref.path.toString()}: seq=${seq} time=${rtt.toFixed(2)} ms`)
      } catch (error) {
        if (!(error instanceof AskTimeoutError)) throw error
        log(`seq=${seq}: no reply within ${timeoutMs} ms`)
      }
    }

    const sorted = rtts.slice().sort((a, b) => a - b)
    const at = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
    const avg = sorted.reduce((s, x) => s + x, 0) / sorted.length
    console.log(`--- ${ref.path.toString()} ---`)
    console.log(`${count} asks, ${rtts.length} replies, ${count - rtts.length} without reply`)
    if (sorted.length > 0) {
      const f = (x: number): string => x.toFixed(2)
      console.log(
        `round trip min/p50/avg/p99/max = ${f(sorted[0] as number)}/${f(at(50))}/${f(avg)}/${f(at(99))}/${f(sorted[sorted.length - 1] as number)} ms`,
      )
    }
    return rtts.length === count ? 0 : 1
  } finally {
    await system.terminate()
  }
}

// ---------------------------------------------------------------------------------------- main

/** The error's message plus those of its causes that it does not already contain (EADDRINUSE…). */
function describe(error: Error): string {
  let text = error.message
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause) {
    if (!text.includes(cause.message)) text += ` (${cause.message})`
  }
  return text
}

async function main(argv: string[]): Promise<number> {
  // `pnpm helios -- node` passes the `--` on.
  const args = argv.filter((a) => a !== '--')
  const [command, ...rest] = args
  try {
    switch (command) {
      case 'node':
        return await node(rest)
      case 'ping':
        return await ping(rest)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE)
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    }
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes on unknown or malformed options.
    const code = (error as { code?: unknown }).code
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`helios: ${(error as Error).message}\n${USAGE}`)
      return 2
    }
    if (error instanceof HeliosActorError) {
      console.error(`helios: ${describe(error)}`)
      return 1
    }
    console.error('helios:', error)
    return 1
  }
}

process.exit(await main(process.argv.slice(2)))
