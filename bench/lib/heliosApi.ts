/**
 * The slice of the @helios/actors public API (issue 4) that the benchmark drives, typed here so
 * that the benchmark compiles whatever state the package is in, and loaded at run time. When the
 * package does not offer remoting yet, {@link loadHelios} says why and the project cases are
 * skipped with that reason: a project figure is either measured or absent, never made up.
 */
import type { TlsMaterial } from './certs.js'
import { secured, type Transport } from './workloads.js'

/** `ActorRef` as issue 4 names it. */
export interface HeliosActorRef {
  tell(message: unknown, sender?: HeliosActorRef): void
  readonly path: { toString(): string }
}

/** The `ctx` a behavior receives. */
export interface HeliosActorContext {
  readonly self: HeliosActorRef
  readonly sender: HeliosActorRef | undefined
  stop(ref?: HeliosActorRef): void
}

export type HeliosBehavior = (message: unknown, ctx: HeliosActorContext) => void | Promise<void>

export interface HeliosRemoteOptions {
  transport: Transport
  host: string
  port: number
  tls?: { key: string; cert: string; ca: string; requestCert: boolean }
  dtls?: { mtu: number }
}

/** `ActorSystem` as issue 4 names it. */
export interface HeliosSystem {
  readonly address: { toString(): string }
  actorOf(behavior: HeliosBehavior, name?: string): HeliosActorRef
  actorSelection(path: string): { resolveOne(options: { timeoutMs: number }): Promise<HeliosActorRef> }
  readonly events?: { on(event: string, listener: (...args: unknown[]) => void): unknown }
  terminate(): Promise<void>
}

export interface HeliosActorSystemStatic {
  create(name: string, options?: { remote?: HeliosRemoteOptions }): Promise<HeliosSystem>
}

export type HeliosLoad = { ok: true; ActorSystem: HeliosActorSystemStatic } | { ok: false; reason: string }

const NOT_YET = 'remoting not available yet'

/** Bounds a promise in time; rejects with `what timed out` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Imports @helios/actors and checks that it exports `ActorSystem.create`. */
export async function loadHelios(): Promise<HeliosLoad> {
  // A computed specifier keeps the compiler from binding to today's (possibly empty) index.
  const specifier = '@helios/actors'
  let mod: Record<string, unknown>
  try {
    mod = (await import(specifier)) as Record<string, unknown>
  } catch (err) {
    return { ok: false, reason: `${NOT_YET} (@helios/actors does not load: ${message(err).split('\n')[0]})` }
  }
  const ActorSystem = mod['ActorSystem'] as Partial<HeliosActorSystemStatic> | undefined
  if (!ActorSystem || typeof ActorSystem.create !== 'function') {
    return { ok: false, reason: `${NOT_YET} (@helios/actors exports no ActorSystem.create)` }
  }
  return { ok: true, ActorSystem: ActorSystem as HeliosActorSystemStatic }
}

/** Remote options for a system bound to 127.0.0.1 on an ephemeral port. */
export function remoteOptions(transport: Transport, tls: TlsMaterial | undefined): HeliosRemoteOptions {
  const options: HeliosRemoteOptions = { transport, host: '127.0.0.1', port: 0 }
  if (secured(transport) && tls) options.tls = { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true }
  // --dtls-mtu (both sides: side B inherits it through the environment); default the project's own.
  const mtu = Number(process.env['HELIOS_BENCH_DTLS_MTU'])
  if (transport === 'dtls' && Number.isInteger(mtu) && mtu > 0) options.dtls = { mtu }
  return options
}

/**
 * Creates a remoting system and checks it really is one (it has a bound `helios.<transport>://`
 * address and `actorSelection`). Rejects with a reason starting "remoting not available yet" when
 * not, so callers print it and skip.
 */
export async function createRemoteSystem(
  ActorSystem: HeliosActorSystemStatic,
  name: string,
  transport: Transport,
  tls: TlsMaterial | undefined,
): Promise<HeliosSystem> {
  let system: HeliosSystem
  try {
    system = await withTimeout(
      ActorSystem.create(name, { remote: remoteOptions(transport, tls) }),
      15_000,
      `ActorSystem.create over ${transport}`,
    )
  } catch (err) {
    throw new Error(`${NOT_YET} over ${transport} (${message(err).split('\n')[0]})`)
  }
  const address = String(system.address ?? '')
  const bound = /^helios\.(tcp|tls|udp|dtls):\/\/[^@]+@[^:]+:(\d+)/.exec(address)
  if (!bound || bound[1] !== transport || bound[2] === '0' || typeof system.actorSelection !== 'function') {
    await system.terminate().catch(() => {})
    throw new Error(`${NOT_YET} over ${transport} (system address is '${address}')`)
  }
  return system
}
