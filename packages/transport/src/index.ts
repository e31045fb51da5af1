/**
 * @helios/transport: a Netty-style channel pipeline over TCP, TLS, UDP and DTLS.
 * @packageDocumentation
 */
export * from './errors.js'
export { type Clock, type TimerHandle, type TimerOptions, systemClock } from './Clock.js'
export type { Channel, ChannelKind, Datagram, SocketAddress } from './Channel.js'
export type { ChannelHandler, ChannelHandlerContext, WriteCallback } from './ChannelHandler.js'
export { ChannelPipeline, type UnhandledCounts, type UnhandledReport } from './ChannelPipeline.js'
export { type WriteBufferWaterMark, DEFAULT_WATER_MARK } from './internal/AbstractChannel.js'
export { ChunkQueue } from './ChunkQueue.js'
export { ByteToMessageDecoder, type ByteToMessageDecoderOptions } from './ByteToMessageDecoder.js'
export {
  LengthFieldBasedFrameDecoder,
  type LengthFieldBasedFrameDecoderOptions,
  isLentFrame,
  type ByteOrder,
  type LengthFieldLength,
} from './LengthFieldBasedFrameDecoder.js'
export { LengthFieldPrepender, type LengthFieldPrependerOptions } from './LengthFieldPrepender.js'
export { SocketChannel, type SocketChannelOptions } from './SocketChannel.js'
export { DatagramChannel, type DatagramChannelOptions } from './DatagramChannel.js'
export { DtlsChannel, DtlsDatagramChannel, DtlsRecordTooLargeError, type DtlsChannelOptions } from './DtlsChannel.js'
export type { EndpointStats as DtlsEndpointStats } from './internal/dtls/DtlsEndpoint.js'
export { SocketError } from './SocketError.js'
export { ServerChannel } from './ServerChannel.js'
export { Bootstrap } from './Bootstrap.js'
export { ServerBootstrap } from './ServerBootstrap.js'
export { HandshakeSlots, sourceOf, type HandshakeSlotsOptions, type SlotGrant } from './HandshakeSlots.js'
export type {
  TransportKind,
  ChannelInitializer,
  CommonChannelOptions,
  BootstrapOptions,
  ServerBootstrapOptions,
  DtlsOptions,
} from './BootstrapOptions.js'
export { LineBasedFrameDecoder, type LineBasedFrameDecoderOptions } from './LineBasedFrameDecoder.js'
export { DelimiterBasedFrameDecoder, type DelimiterBasedFrameDecoderOptions } from './DelimiterBasedFrameDecoder.js'
export { IdleStateHandler, type IdleStateHandlerOptions } from './IdleStateHandler.js'
export { IdleStateEvent, IdleState } from './IdleStateEvent.js'
export { ReadTimeoutHandler } from './ReadTimeoutHandler.js'
export { LoggingHandler, type LoggingHandlerOptions } from './LoggingHandler.js'
export { FlushConsolidationHandler, type FlushConsolidationHandlerOptions } from './FlushConsolidationHandler.js'
export {
  Reconnector,
  reconnect,
  backoffDelay,
  ReconnectExhaustedError,
  ReconnectCancelledError,
  type ReconnectOptions,
  type ReconnectRetryEvent,
  type BackoffOptions,
} from './Reconnector.js'
