/**
 * Test helpers of @helios/transport: test handlers without sockets, time without sleeping, and
 * throwaway TLS certificates made in-process (no openssl) for tests, demos and development.
 * @packageDocumentation
 */
export { EmbeddedChannel, type EmbeddedChannelOptions } from './internal/EmbeddedChannel.js'
export { ManualClock } from './internal/ManualClock.js'
export {
  DevCertificateAuthority,
  DevCertificateFiles,
  devCertificates,
  ensureDevCertificates,
  readDevCertificates,
  selfSignedCertificate,
  type CertificateOptions,
  type DevCertificates,
  type KeyAndCertificate,
} from './internal/DevCertificates.js'
