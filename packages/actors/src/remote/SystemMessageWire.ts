/**
 * Wire form of the system messages carried in system envelopes (docs/PROTOCOL.md §10.3): the
 * envelope's message is `[WIRE_WATCH]`, `[WIRE_UNWATCH]` or `[WIRE_DEATH_WATCH_NOTIFICATION, e]`
 * with `e` = 1 when the actor was known to exist; recipient and sender are the envelope's paths.
 */
export const WIRE_WATCH = 1
export const WIRE_UNWATCH = 2
export const WIRE_DEATH_WATCH_NOTIFICATION = 3
