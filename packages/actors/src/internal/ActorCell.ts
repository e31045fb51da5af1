import type { ActorContext, ActorOptions, Behavior } from '../ActorContext.js'
import { ActorPath, isValidPathElement } from '../ActorPath.js'
import type { ActorRef } from '../ActorRef.js'
import type { ActorSystem } from '../ActorSystem.js'
import type { Address } from '../Address.js'
import { InvalidActorNameError } from '../errors.js'
import { PoisonPill } from '../PoisonPill.js'
import { Terminated } from '../Terminated.js'
import type { ActorSystemCore } from './ActorSystemCore.js'
import { DeadLetterActorRef } from './DeadLetterActorRef.js'
import { debug } from './debug.js'
import type { Runnable } from './Dispatcher.js'
import { internalRef, type InternalActorRef } from './InternalActorRef.js'
import { LocalActorRef } from './LocalActorRef.js'
import { Mailbox } from './Mailbox.js'
import { newActorUid } from './uid.js'
import { TERMINATE, type SystemMessage } from './SystemMessage.js'

/** Cell states (integers, checked on the hot path). */
export const CellState = { Alive: 0, Stopping: 1, Terminated: 2 } as const
type CellStateValue = (typeof CellState)[keyof typeof CellState]

const noop = (): void => {}

/**
 * Sender marker of the Terminated messages the cell itself enqueues from a death-watch notification,
 * so that only those are filtered against `#watching` (a Terminated forwarded by another actor is an
 * ordinary message).
 */
const DEATH_WATCH = Object.freeze({}) as ActorRef

/**
 * The runtime of one actor: its mailbox, behavior, children and death-watch bookkeeping. It is also
 * the actor's {@link ActorContext} (one object per actor, `sender` updated per message).
 *
 * Scheduling: a cell with work is queued once on the {@link Dispatcher}; `run` handles system
 * messages first, then up to `throughput` user messages. A behavior returning a promise parks the
 * cell (no further user message) until the promise settles; system messages still run, so a stop
 * takes effect during a pending promise (whose outcome is then ignored).
 *
 * Stop: state Alive → Stopping (children are sent `terminate`) → Terminated once every child has
 * terminated; then queued messages go to dead letters, watched refs are unwatched, watchers are sent a
 * `deathWatchNotification`, and the parent forgets the child's name at once (so the name may be
 * reused right after the Terminated is seen).
 */
export class ActorCell implements ActorContext, Runnable {
  readonly core: ActorSystemCore
  readonly self: LocalActorRef
  readonly uid: number
  readonly name: string
  readonly parentCell: ActorCell | undefined
  state: CellStateValue = CellState.Alive
  sender: ActorRef | undefined = undefined

  #behavior: Behavior<unknown>
  readonly #mailbox: Mailbox
  #systemQueue: SystemMessage[] = []
  #queued = false
  #awaiting = false
  #token = 0
  /** Runs started from a promise settlement (a microtask) since the dispatcher last ran this cell. */
  #inlineRuns = 0
  readonly #children = new Map<string, ActorCell>()
  #childCounter = 0
  /** Refs this actor watches, keyed by path with uid (or without, when the ref has none). */
  readonly #watching = new Map<string, ActorRef>()
  /** Refs watching this actor, keyed by path with uid. */
  readonly #watchedBy = new Map<string, InternalActorRef>()

  constructor(core: ActorSystemCore, parent: ActorCell | undefined, path: ActorPath, behavior: Behavior<unknown>, options?: ActorOptions) {
    this.core = core
    this.parentCell = parent
    this.uid = path.uid ?? newActorUid()
    this.name = path.name
    this.self = new LocalActorRef(path.withUid(this.uid), this)
    this.#behavior = behavior
    this.#mailbox = new Mailbox(options?.mailboxCapacity ?? Infinity)
  }

  // ---- ActorContext ----

  get system(): ActorSystem {
    return this.core.system
  }

  get parent(): ActorRef {
    return this.parentCell?.self ?? this.core.deadLetters
  }

  get children(): readonly ActorRef[] {
    return [...this.#children.values()].map((c) => c.self)
  }

  watch(ref: ActorRef): ActorRef {
    if (ref === this.self || this.state !== CellState.Alive) return ref
    const key = ref.path.toSerializationFormat()
    if (!this.#watching.has(key)) {
      this.#watching.set(key, ref)
      internalRef(ref).sendSystemMessage({ kind: 'watch', watchee: ref, watcher: this.self })
    }
    return ref
  }

  unwatch(ref: ActorRef): ActorRef {
    const key = ref.path.toSerializationFormat()
    if (this.#watching.delete(key)) {
      internalRef(ref).sendSystemMessage({ kind: 'unwatch', watchee: ref, watcher: this.self })
    }
    return ref
  }

  stop(ref?: ActorRef): void {
    internalRef(ref ?? this.self).sendSystemMessage(TERMINATE)
  }

  actorOf<M = unknown>(behavior: Behavior<M>, name?: string, options?: ActorOptions): ActorRef {
    if (name === undefined) {
      do name = `$${(this.#childCounter++).toString(36)}`
      while (this.#children.has(name))
    } else {
      if (!isValidPathElement(name)) throw new InvalidActorNameError(name, 'not a valid path element')
      if (name.startsWith('$')) throw new InvalidActorNameError(name, 'names starting with "$" are reserved')
      if (this.#children.has(name)) throw new InvalidActorNameError(name, `already taken under ${this.self.path.toString()}`)
    }
    const childPath = new ActorPath(this.self.path.address, [...this.self.path.elements, name], newActorUid())
    if (this.state !== CellState.Alive) {
      debug('actorOf %s while its parent is stopping: dead on arrival', childPath.toString())
      return new DeadLetterActorRef(this.core, childPath)
    }
    const child = new ActorCell(this.core, this, childPath, behavior as Behavior<unknown>, options)
    this.#children.set(name, child)
    return child.self
  }

  // ---- called through refs and by the system ----

  /** A user message: the hot path of `tell`. */
  enqueue(message: unknown, sender: ActorRef | undefined): void {
    if (this.state !== CellState.Alive || !this.#mailbox.push(message, sender)) {
      this.core.deadLetter(message, sender, this.self)
      return
    }
    if (!this.#queued && !this.#awaiting) {
      this.#queued = true
      this.core.dispatcher.schedule(this)
    }
  }

  sendSystemMessage(message: SystemMessage): void {
    if (this.state === CellState.Terminated) {
      this.#afterTerminated(message)
      return
    }
    this.#systemQueue.push(message)
    if (!this.#queued) {
      this.#queued = true
      this.core.dispatcher.schedule(this)
    }
  }

  /** The live child called `name`, if any. */
  child(name: string): ActorCell | undefined {
    return this.#children.get(name)
  }

  /** Live children (for tree walks). */
  childCells(): IterableIterator<ActorCell> {
    return this.#children.values()
  }

  /**
   * The node at `address` is down: every watched ref there yields a Terminated (addressTerminated),
   * watchers from there are forgotten. Recurses into children.
   */
  addressTerminated(address: Address): void {
    if (this.state === CellState.Terminated) return
    for (const ref of this.#watching.values()) {
      if (ref.path.address.equals(address)) {
        this.sendSystemMessage({ kind: 'deathWatchNotification', ref, existenceConfirmed: false, addressTerminated: true })
      }
    }
    for (const [key, watcher] of this.#watchedBy) {
      if (watcher.path.address.equals(address)) this.#watchedBy.delete(key)
    }
    for (const child of this.#children.values()) child.addressTerminated(address)
  }

  run(throughput: number): number {
    this.#inlineRuns = 0
    return this.#runBatch(throughput)
  }

  #runBatch(throughput: number): number {
    let handled = 0
    if (this.#systemQueue.length > 0) this.#processSystemMessages()
    const mailbox = this.#mailbox
    while (this.state === CellState.Alive && !this.#awaiting && handled < throughput && mailbox.size > 0) {
      const message = mailbox.shift()
      let sender = mailbox.lastSender
      handled++
      if (sender === DEATH_WATCH) {
        // Unwatched since the notification arrived: Akka's guarantee is no Terminated after unwatch.
        const ref = (message as Terminated).ref
        const key = ref.path.toSerializationFormat()
        if (this.#watching.get(key) !== ref) continue
        this.#watching.delete(key)
        sender = undefined
      } else if (message === PoisonPill) {
        this.#beginStop()
        break
      }
      this.sender = sender
      this.#invoke(message)
      if (this.#systemQueue.length > 0) this.#processSystemMessages()
    }
    this.#queued = false
    if (
      this.state !== CellState.Terminated &&
      (this.#systemQueue.length > 0 || (this.state === CellState.Alive && !this.#awaiting && mailbox.size > 0))
    ) {
      this.#queued = true
      this.core.dispatcher.schedule(this)
    }
    return handled
  }

  #invoke(message: unknown): void {
    let result: void | PromiseLike<void>
    try {
      result = this.#behavior(message, this)
    } catch (error) {
      this.#fail(error, message)
      return
    }
    if (result != null && typeof (result as PromiseLike<void>).then === 'function') {
      this.#awaiting = true
      const token = ++this.#token
      // One closure pair per async message only: the promise already costs more than that.
      ;(result as PromiseLike<void>).then(
        () => this.#settled(token),
        (error: unknown) => this.#settled(token, true, error, message),
      )
    }
  }

  #settled(token: number, failed = false, error?: unknown, message?: unknown): void {
    if (token !== this.#token || this.state === CellState.Terminated) {
      if (failed) debug('%s: rejection after stop ignored: %o', this.self.path.toString(), error)
      return
    }
    this.#awaiting = false
    if (failed) {
      this.#fail(error, message)
      return
    }
    if (!this.#queued && (this.#mailbox.size > 0 || this.#systemQueue.length > 0)) {
      this.#queued = true
      // Go on with the next message in this microtask instead of paying a dispatcher round trip per
      // async message, but only `throughput` times in a row: then yield so I/O is not starved.
      const throughput = this.core.dispatcher.throughput
      if (this.#inlineRuns < throughput) {
        this.#inlineRuns++
        this.#runBatch(throughput)
      } else {
        this.core.dispatcher.schedule(this)
      }
    }
  }

  #fail(error: unknown, message: unknown): void {
    this.core.actorFailed(this.self, error, message)
    this.#beginStop()
  }

  #processSystemMessages(): void {
    const queue = this.#systemQueue
    while (queue.length > 0 && this.state !== CellState.Terminated) {
      const message = queue.shift() as SystemMessage
      switch (message.kind) {
        case 'terminate':
          this.#beginStop()
          break
        case 'watch':
          if (message.watcher !== this.self) this.#watchedBy.set(message.watcher.path.toSerializationFormat(), internalRef(message.watcher))
          break
        case 'unwatch':
          this.#watchedBy.delete(message.watcher.path.toSerializationFormat())
          break
        case 'deathWatchNotification': {
          if (this.state !== CellState.Alive) break
          // A notification carries the uid; the watched ref may not have had one (resolved from a string).
          const watched = this.#watching.get(message.ref.path.toSerializationFormat()) ?? this.#watching.get(message.ref.path.toString())
          if (watched !== undefined) {
            this.#mailbox.push(new Terminated(watched, message.existenceConfirmed, message.addressTerminated), DEATH_WATCH, true)
          }
          break
        }
      }
    }
  }

  #afterTerminated(message: SystemMessage): void {
    if (message.kind === 'watch' && message.watcher !== this.self) {
      internalRef(message.watcher).sendSystemMessage({
        kind: 'deathWatchNotification',
        ref: message.watchee,
        existenceConfirmed: true,
        addressTerminated: false,
      })
    }
  }

  #beginStop(): void {
    if (this.state !== CellState.Alive) return
    this.state = CellState.Stopping
    if (this.#awaiting) {
      this.#awaiting = false
      this.#token++
    }
    if (this.#children.size === 0) this.#finalize()
    else for (const child of this.#children.values()) child.sendSystemMessage(TERMINATE)
  }

  #childTerminated(child: ActorCell): void {
    if (this.#children.get(child.name) === child) this.#children.delete(child.name)
    if (this.state === CellState.Stopping && this.#children.size === 0) this.#finalize()
  }

  #finalize(): void {
    this.state = CellState.Terminated
    this.#behavior = noop
    this.sender = undefined
    const mailbox = this.#mailbox
    while (mailbox.size > 0) {
      const message = mailbox.shift()
      if (mailbox.lastSender !== DEATH_WATCH && message !== PoisonPill) this.core.deadLetter(message, mailbox.lastSender, this.self)
    }
    const pending = this.#systemQueue
    this.#systemQueue = []
    for (const message of pending) this.#afterTerminated(message)
    for (const ref of this.#watching.values()) {
      internalRef(ref).sendSystemMessage({ kind: 'unwatch', watchee: ref, watcher: this.self })
    }
    this.#watching.clear()
    for (const watcher of this.#watchedBy.values()) {
      watcher.sendSystemMessage({ kind: 'deathWatchNotification', ref: this.self, existenceConfirmed: true, addressTerminated: false })
    }
    this.#watchedBy.clear()
    debug('%s terminated', this.self.path.toString())
    if (this.parentCell !== undefined) this.parentCell.#childTerminated(this)
    else this.core.guardianTerminated(this)
  }
}
