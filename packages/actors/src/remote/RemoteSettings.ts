import { isIPv6 } from 'node:net'
import type { MessageRegistry } from '@helios/codec'
import type { RemoteOptions } from '../ActorSystem.js'
import type { PhiAccrualFailureDetectorOptions } from '../PhiAccrualFailureDetector.js'

/** {@link RemoteOptions} with every default filled in. */
export interface RemoteSettings {
  readonly transport: 'tcp' | 'tls' | 'udp' | 'dtls'
  readonly host: string
  readonly port: number
  readonly advertisedHost: string
  readonly advertisedPort: number | undefined
  readonly tls: RemoteOptions['tls']
  readonly dtls: RemoteOptions['dtls']
  /** Datagram transports: the largest payload of one datagram (udp) or one DTLS record (dtls), frames with their length included. */
  readonly datagramPayload: number
  readonly heartbeatIntervalMs: number
  readonly handshakeTimeoutMs: number
  readonly failureDetector: Omit<PhiAccrualFailureDetectorOptions, 'clock'>
  readonly maxFrameSize: number
  readonly maxMessageSize: number
  readonly outboundQueueSize: number
  readonly outboundQueueBytes: number
  readonly memoryBudgetBytes: number
  readonly peerMemoryBytes: number
  readonly systemMessageBufferSize: number
  readonly systemMessageResendIntervalMs: number
  readonly reconnectMinBackoffMs: number
  readonly reconnectMaxBackoffMs: number
  readonly maxPendingInboundHandshakes: number
  readonly maxPendingInboundHandshakesPerSource: number
  readonly preambleTimeoutMs: number
  readonly shutdownFlushTimeoutMs: number
  readonly downOnConnectionRefused: boolean
  readonly quarantineRecovery: 'new-uid' | 'none'
  readonly pauseThresholdMs: number
  readonly idleUserConnectionMs: number
  readonly maxAssociations: number
  readonly forgetQuarantinedAfterMs: number
  readonly maxConnectsInFlight: number
  /** udp and dtls: peers with a socket of their own, at most (0 over tcp and tls). */
  readonly udpPeerSockets: number
  readonly registry: MessageRegistry | undefined
}

/** Largest UDP datagram the remoting sends (below IPv4's 65 507-byte UDP payload limit). */
export const UDP_MAX_DATAGRAM = 65_000
/** The transport's default DTLS path MTU. */
const DTLS_DEFAULT_MTU = 1280
/** Largest data of one DTLS record (2^14), whatever the MTU. */
const DTLS_MAX_PLAINTEXT = 16384
/** Bytes a DTLS record adds to its data (header, explicit nonce, tag). */
const DTLS_RECORD_OVERHEAD = 37

/** Largest UDP payload we send: below the 65 507-byte IPv4 limit, with room for the fragment header. */
export const UDP_MAX_FRAME_SIZE = 60 * 1024

/**
 * Default handshake timeout: a handshake is given up after this much silence from the peer (see
 * `RemoteOptions.handshakeTimeoutMs`). 20 s, as Akka Artery's: at 10 s, a 100-node mesh forming on
 * 2 cores gave up on about 1,200 handshakes with live but overloaded peers (bench/RESULTS.md).
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 20_000

/** Fills in defaults (heartbeat 1 s, handshake timeout 20 s, frame 256 KiB, message 16 MiB: docs/ARCHITECTURE.md). */
export function resolveRemoteSettings(o: RemoteOptions): RemoteSettings {
  const maxFrame = o.maxFrameSize ?? 256 * 1024
  // DTLS: one record within the path MTU, less the IP and UDP headers and the record's 37 bytes.
  const datagramPayload =
    o.transport === 'dtls'
      ? Math.min(DTLS_MAX_PLAINTEXT, (o.dtls?.mtu ?? DTLS_DEFAULT_MTU) - (isIPv6(o.host) ? 48 : 28) - DTLS_RECORD_OVERHEAD)
      : UDP_MAX_DATAGRAM
  return {
    transport: o.transport,
    host: o.host,
    port: o.port,
    advertisedHost: o.advertisedHost ?? o.host,
    advertisedPort: o.advertisedPort,
    tls: o.tls,
    dtls: o.dtls,
    datagramPayload,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? 1000,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    failureDetector: {
      firstHeartbeatEstimateMs: o.heartbeatIntervalMs ?? 1000,
      ...o.failureDetector,
    },
    maxFrameSize:
      o.transport === 'udp'
        ? Math.min(maxFrame, UDP_MAX_FRAME_SIZE)
        : o.transport === 'dtls'
          ? Math.min(maxFrame, datagramPayload - 4)
          : maxFrame,
    maxMessageSize: o.maxMessageSize ?? 16 * 1024 * 1024,
    outboundQueueSize: o.outboundQueueSize ?? 16_384,
    outboundQueueBytes: o.outboundQueueBytes ?? 32 * 1024 * 1024,
    memoryBudgetBytes: o.memoryBudgetBytes ?? 128 * 1024 * 1024,
    peerMemoryBytes: o.peerMemoryBytes ?? 2 * (o.maxMessageSize ?? 16 * 1024 * 1024),
    systemMessageBufferSize: o.systemMessageBufferSize ?? 20_000,
    systemMessageResendIntervalMs: o.systemMessageResendIntervalMs ?? 1000,
    reconnectMinBackoffMs: o.reconnectMinBackoffMs ?? 100,
    reconnectMaxBackoffMs: o.reconnectMaxBackoffMs ?? 5000,
    maxPendingInboundHandshakes: o.maxPendingInboundHandshakes ?? 64,
    maxPendingInboundHandshakesPerSource:
      o.maxPendingInboundHandshakesPerSource ?? Math.max(1, Math.floor((o.maxPendingInboundHandshakes ?? 64) / 2)),
    preambleTimeoutMs: Math.min(o.preambleTimeoutMs ?? 2000, o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS),
    shutdownFlushTimeoutMs: o.shutdownFlushTimeoutMs ?? 2000,
    downOnConnectionRefused: o.downOnConnectionRefused ?? true,
    quarantineRecovery: o.quarantineRecovery ?? 'new-uid',
    pauseThresholdMs: o.pauseThresholdMs ?? Math.max(1000, 2 * (o.heartbeatIntervalMs ?? 1000)),
    idleUserConnectionMs: o.idleUserConnectionMs ?? 60_000,
    maxAssociations: o.maxAssociations ?? 10_000,
    forgetQuarantinedAfterMs: o.forgetQuarantinedAfterMs ?? 300_000,
    maxConnectsInFlight: Math.max(1, o.maxConnectsInFlight ?? 128),
    // Windows hands a datagram for a shared port to any of its sockets, not to the connected one.
    udpPeerSockets:
      o.transport === 'udp' || o.transport === 'dtls'
        ? Math.max(0, Math.floor(o.udpPeerSockets ?? (process.platform === 'win32' ? 0 : 128)))
        : 0,
    registry: o.registry,
  }
}
