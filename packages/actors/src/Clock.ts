/**
 * The actor system's time source is the transport's {@link Clock}: one clock drives asks,
 * heartbeats, handshake and reconnect timers, and the bootstraps' connect and TLS timeouts.
 */
export { systemClock, type Clock, type TimerHandle, type TimerOptions } from '@helios/transport'
export { ManualClock } from '@helios/transport/testing'
