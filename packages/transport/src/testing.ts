/**
 * Test helpers of @helios/transport: test handlers without sockets and time without sleeping.
 * @packageDocumentation
 */
export { EmbeddedChannel, type EmbeddedChannelOptions } from './internal/EmbeddedChannel.js'
export { ManualClock } from './internal/ManualClock.js'
