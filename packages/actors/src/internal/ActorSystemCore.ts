import type { ActorOptions, Behavior } from '../ActorContext.js'
import { ActorPath } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import type { ActorSystem, ActorSystemOptions } from '../ActorSystem.js'
import { ActorSystemEvents } from '../ActorSystemEvents.js'
import { Address } from '../Address.js'
import { systemClock, type Clock } from '../Clock.js'
import { DeadLetter } from '../DeadLetter.js'
import { ActorNotFound, ActorSystemTerminatedError, AskTimeoutError } from '../errors.js'
import { ActorCell, CellState } from './ActorCell.js'
import { DeadLetterActorRef } from './DeadLetterActorRef.js'
import { debug } from './debug.js'
import { Dispatcher } from './Dispatcher.js'
import type { InternalActorRef } from './InternalActorRef.js'
import { LocalActorRef } from './LocalActorRef.js'
import { PromiseActorRef } from './PromiseActorRef.js'
import { describeValue } from './describe.js'
import { SystemLog } from './SystemLog.js'
import type { AskOptions, RemoteProvider, RemoteProviderFactory, SystemInternals } from './RemoteProvider.js'
import { TERMINATE } from './SystemMessage.js'
import { newActorUid, newNodeUid } from './uid.js'

const guardianBehavior: Behavior = (message, ctx) => {
  ctx.system.deadLetters.tell(message, ctx.sender)
}

/**
 * Everything behind the {@link ActorSystem} facade: the actor tree (`/user`, `/system`, `/temp`,
 * `/deadLetters`), the dispatcher, dead letters, asks, the remote provider, termination.
 */
export class ActorSystemCore implements SystemInternals {
  system!: ActorSystem
  readonly name: string
  readonly nodeUid: bigint = newNodeUid()
  readonly clock: Clock
  readonly events: ActorSystemEvents
  readonly log: SystemLog
  readonly dispatcher: Dispatcher
  provider: RemoteProvider | undefined = undefined
  deadLetterCount = 0
  readonly #options: ActorSystemOptions
  #address: Address | undefined
  #deadLetters: DeadLetterActorRef | undefined
  #userGuardian: ActorCell | undefined
  #systemGuardian: ActorCell | undefined
  readonly #temp = new Map<string, PromiseActorRef>()
  #tempCounter = 0
  readonly #guardianStopped = new Map<ActorCell, () => void>()
  #termination: Promise<void> | undefined
  #terminated = false
  readonly #removeTemp = (ref: PromiseActorRef): void => {
    this.#temp.delete(ref.path.name)
    if (ref.timer !== undefined) this.clock.clearTimeout(ref.timer)
  }

  constructor(name: string, options: ActorSystemOptions) {
    Address.local(name) // validates the name
    this.name = name
    this.#options = options
    this.clock = options.clock ?? systemClock
    this.log = new SystemLog(options.logger, this.clock, () => (this.#address ?? Address.local(name)).toString())
    this.events = new ActorSystemEvents(
      () => this.address,
      (event, error) => {
        this.log.report(
          'error',
          `listener:${event}`,
          () => `a '${event}' listener threw: ${describeError(error)}`,
          (n) => `a '${event}' listener threw ${n} more times`,
        )
      },
    )
    this.dispatcher = new Dispatcher(options.throughput, options.messagesPerTurn)
  }

  /** Binds remoting (when configured), then creates the guardians. */
  async start(factory: RemoteProviderFactory): Promise<void> {
    if (this.#options.remote !== undefined) {
      this.provider = await factory(this.#options.remote, this)
      this.#address = this.provider.address
    } else {
      this.#address = Address.local(this.name)
    }
    const root = ActorPath.root(this.#address)
    this.#deadLetters = new DeadLetterActorRef(this, root.child('deadLetters'))
    this.#userGuardian = new ActorCell(this, undefined, root.child('user'), guardianBehavior)
    this.#systemGuardian = new ActorCell(this, undefined, root.child('system'), guardianBehavior)
    debug('actor system %s started at %s (node uid %s)', this.name, this.#address.toString(), this.nodeUid)
  }

  get address(): Address {
    if (this.#address === undefined) throw new Error('actor system not started')
    return this.#address
  }

  get deadLetters(): DeadLetterActorRef {
    return this.#deadLetters as DeadLetterActorRef
  }

  get userGuardian(): ActorCell {
    return this.#userGuardian as ActorCell
  }

  get isTerminated(): boolean {
    return this.#terminated
  }

  actorOf(behavior: Behavior<unknown>, name: string | undefined, options: ActorOptions | undefined): ActorRef {
    if (this.#termination !== undefined) throw new ActorSystemTerminatedError(this.name)
    return this.userGuardian.actorOf(behavior, name, options)
  }

  isLocalAddress(address: Address): boolean {
    return address.equals(this.address) || (address.isLocal && address.system === this.name)
  }

  resolveActorRef(path: string | ActorPath): InternalActorRef {
    const p = typeof path === 'string' ? ActorPath.parse(path) : path
    if (this.isLocalAddress(p.address)) return this.findLocalActor(p) ?? new DeadLetterActorRef(this, p)
    if (this.provider !== undefined) return this.provider.resolveRemoteRef(p)
    debug('no remoting: %s resolves to dead letters', p.toString())
    return new DeadLetterActorRef(this, p)
  }

  findLocalActor(path: ActorPath): InternalActorRef | undefined {
    if (this.#address === undefined) return undefined
    const [top, ...rest] = path.elements
    if (top === 'temp' && rest.length === 1) {
      const ref = this.#temp.get(rest[0] as string)
      return ref !== undefined && (path.uid === undefined || path.uid === ref.path.uid) ? ref : undefined
    }
    if (top === 'deadLetters' && rest.length === 0) return this.deadLetters
    let cell = top === 'user' ? this.#userGuardian : top === 'system' ? this.#systemGuardian : undefined
    for (const name of rest) cell = cell?.child(name)
    if (cell === undefined || cell.state === CellState.Terminated) return undefined
    if (path.uid !== undefined && path.uid !== cell.uid) return undefined
    return cell.self
  }

  deliver(recipient: string | ActorPath, message: unknown, sender: ActorRef | undefined): void {
    const p = typeof recipient === 'string' ? ActorPath.parse(recipient) : recipient
    const ref = this.isLocalAddress(p.address) ? this.findLocalActor(p) : undefined
    if (ref !== undefined) ref.tell(message, sender)
    else this.deadLetter(message, sender, new DeadLetterActorRef(this, p))
  }

  runActors(): void {
    this.dispatcher.runNow()
  }

  addressTerminated(address: Address): void {
    if (this.isLocalAddress(address)) return
    debug('address terminated: %s', address.toString())
    this.#userGuardian?.addressTerminated(address)
    this.#systemGuardian?.addressTerminated(address)
  }

  deadLetter(message: unknown, sender: ActorRef | undefined, recipient: ActorRef): void {
    this.deadLetterCount++
    if (debug.enabled) debug('dead letter to %s: %o', recipient.path.toSerializationFormat(), message)
    this.log.report(
      'info',
      'deadLetter',
      () =>
        `dead letter: ${describeValue(message)} to ${recipient.path.toString()}${sender === undefined ? '' : ` from ${sender.path.toString()}`}`,
      (n) => `${n} more dead letter${n === 1 ? '' : 's'}`,
    )
    if (this.events.wants('deadLetter')) this.events.emit('deadLetter', new DeadLetter(message, sender, recipient))
  }

  actorFailed(ref: ActorRef, error: unknown, message: unknown): void {
    debug('%s failed and is stopped: %o', ref.path.toString(), error)
    this.log.report(
      'error',
      `actorFailed:${ref.path.elements.join('/').replace(/\$[0-9a-z]+/g, '$')}`,
      () => `actor ${ref.path.toString()} failed handling ${describeValue(message)} and was stopped: ${describeError(error)}`,
      (n) => `${n} more failure${n === 1 ? '' : 's'} of actors like ${ref.path.toString()}`,
    )
    if (this.events.wants('actorFailed')) this.events.emit('actorFailed', { ref, error, message })
  }

  ask(target: ActorRef, message: unknown, timeoutMs: number, options?: AskOptions): Promise<unknown> {
    if (this.#termination !== undefined) return Promise.reject(new ActorSystemTerminatedError(this.name))
    const name = `$${(this.#tempCounter++).toString(36)}`
    const path = new ActorPath(this.address, ['temp', name], newActorUid())
    return new Promise<unknown>((resolve, reject) => {
      const temp = new PromiseActorRef(this, path, resolve, reject, this.#removeTemp)
      this.#temp.set(name, temp)
      temp.timer = this.clock.setTimeout(
        () => {
          temp.fail(new AskTimeoutError(target.path.toSerializationFormat(), timeoutMs, this.provider?.unreachableReason?.(target)))
        },
        timeoutMs,
        { keepAlive: options?.keepAlive ?? true },
      )
      target.tell(message, temp)
      if (options?.resendEveryMs !== undefined) this.#resend(target, message, temp, options.resendEveryMs, options.stillWaiting)
    })
  }

  /**
   * Tells `message` again at doubling intervals from `everyMs` (asked again each time when a
   * function) while `temp` waits (idempotent messages only). While `stillWaiting()` says the last
   * one has not left this node yet (it waits for a handshake), nothing is told and the interval
   * does not grow; once it left, it gets a whole interval before a copy follows.
   */
  #resend(target: ActorRef, message: unknown, temp: PromiseActorRef, everyMs: number | (() => number), stillWaiting?: () => boolean): void {
    let doublings = 0
    let waited = false
    const schedule = (): void => {
      const base = typeof everyMs === 'function' ? everyMs() : everyMs
      this.clock.setTimeout(
        () => {
          if (temp.completed) return
          const waiting = stillWaiting?.() === true
          if (!waiting && !waited) {
            target.tell(message, temp)
            doublings = Math.min(doublings + 1, 16)
          }
          waited = waiting
          schedule()
        },
        base * 2 ** doublings,
      )
    }
    schedule()
  }

  async resolveSelection(path: ActorPath, timeoutMs: number): Promise<ActorRef> {
    const p = path.withUid(undefined)
    if (this.isLocalAddress(p.address)) {
      const ref = this.findLocalActor(p)
      if (ref === undefined || (ref instanceof PromiseActorRef && ref.completed)) throw new ActorNotFound(p.toString())
      if (ref instanceof LocalActorRef && ref.cell.state !== CellState.Alive) throw new ActorNotFound(p.toString())
      return ref
    }
    if (this.provider !== undefined) return this.provider.resolveSelection(p, timeoutMs)
    throw new ActorNotFound(p.toString(), { cause: new Error('remote path on a local-only actor system') })
  }

  guardianTerminated(cell: ActorCell): void {
    this.#guardianStopped.get(cell)?.()
  }

  terminate(): Promise<void> {
    this.#termination ??= this.#terminate()
    return this.#termination
  }

  async #terminate(): Promise<void> {
    debug('terminating actor system %s', this.name)
    await this.#stopGuardian(this.userGuardian)
    await this.#stopGuardian(this.#systemGuardian as ActorCell)
    for (const temp of [...this.#temp.values()]) temp.fail(new ActorSystemTerminatedError(this.name))
    if (this.provider !== undefined) await this.provider.shutdown()
    this.log.flush()
    this.#terminated = true
    debug('actor system %s terminated', this.name)
  }

  #stopGuardian(cell: ActorCell): Promise<void> {
    if (cell.state === CellState.Terminated) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.#guardianStopped.set(cell, resolve)
      cell.sendSystemMessage(TERMINATE)
    })
  }
}

/** An error for a log line: its name and message (no stack). */
function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error)
}
