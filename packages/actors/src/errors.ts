/**
 * Typed errors of `@helios/actors`. Every error has a stable string `code` (match on it, never on
 * the message) and may carry a `cause`.
 */

/** Base class of every error thrown or rejected by `@helios/actors`. */
export class HeliosActorError extends Error {
  /** Stable machine-readable code, e.g. `'ERR_ASK_TIMEOUT'`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A string is not a valid address (`helios.tcp://system@host:port` or `helios://system`). Code `ERR_INVALID_ADDRESS`. */
export class InvalidAddressError extends HeliosActorError {
  /** The rejected input. */
  readonly input: string
  constructor(input: string, reason: string) {
    super('ERR_INVALID_ADDRESS', `invalid address ${JSON.stringify(input)}: ${reason}`)
    this.input = input
  }
}

/** A string is not a valid actor path (`helios.tcp://system@host:port/user/a#uid`). Code `ERR_INVALID_ACTOR_PATH`. */
export class InvalidActorPathError extends HeliosActorError {
  /** The rejected input. */
  readonly input: string
  constructor(input: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ACTOR_PATH', `invalid actor path ${JSON.stringify(input)}: ${reason}`, options)
    this.input = input
  }
}

/** An actor name is malformed, reserved (starts with `$`) or already taken by a live sibling. Code `ERR_INVALID_ACTOR_NAME`. */
export class InvalidActorNameError extends HeliosActorError {
  constructor(name: string, reason: string) {
    super('ERR_INVALID_ACTOR_NAME', `invalid actor name ${JSON.stringify(name)}: ${reason}`)
  }
}

/**
 * `system.ask` got no reply within `timeoutMs`. Code `ERR_ASK_TIMEOUT`. When the asked actor's node
 * could not be reached, the message ends with why, e.g. `(connection refused at 127.0.0.1:5000)`.
 */
export class AskTimeoutError extends HeliosActorError {
  /** Path of the asked actor, as a string with its uid when known. */
  readonly recipient: string
  /** The timeout that elapsed. */
  readonly timeoutMs: number
  /** Why the asked actor's node could not be reached, when the remoting knows. */
  readonly reason: string | undefined
  constructor(recipient: string, timeoutMs: number, reason?: string) {
    super('ERR_ASK_TIMEOUT', `ask to ${recipient} timed out after ${timeoutMs} ms${reason === undefined ? '' : ` (${reason})`}`)
    this.recipient = recipient
    this.timeoutMs = timeoutMs
    this.reason = reason
  }
}

/**
 * `actorSelection(path).resolveOne()` found no live actor at the path. Code `ERR_ACTOR_NOT_FOUND`.
 * When the node could not be reached, the message ends with why, e.g.
 * `no actor found at helios.tcp://B@127.0.0.1:5000/user/echo (connection refused at 127.0.0.1:5000)`.
 */
export class ActorNotFound extends HeliosActorError {
  /** The selection's path as given. */
  readonly path: string
  /** Why the node could not be reached, when known (the remoting's last connect failure or refusal). */
  readonly reason: string | undefined
  constructor(path: string, options?: { cause?: unknown; reason?: string | undefined }) {
    super(
      'ERR_ACTOR_NOT_FOUND',
      `no actor found at ${path}${options?.reason === undefined ? '' : ` (${options.reason})`}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    )
    this.path = path
    this.reason = options?.reason
  }
}

/** The actor system was terminated: thrown by `actorOf`, and rejects asks still pending at termination. Code `ERR_SYSTEM_TERMINATED`. */
export class ActorSystemTerminatedError extends HeliosActorError {
  constructor(system: string) {
    super('ERR_SYSTEM_TERMINATED', `actor system ${system} is terminated`)
  }
}

/** `ActorSystem.create` was given `remote` options but remoting could not be started. Code `ERR_REMOTING_UNAVAILABLE`. */
export class RemotingUnavailableError extends HeliosActorError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('ERR_REMOTING_UNAVAILABLE', `remoting unavailable: ${reason}`, options)
  }
}
