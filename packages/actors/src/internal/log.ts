/**
 * Lines a user must see without attaching a listener (a node quarantined by a peer, this process
 * paused long enough to miss heartbeats): one process warning each, with a stable code, on stderr
 * by default (`node --no-warnings` or a 'warning' listener changes that).
 */
export function warn(code: string, message: string): void {
  process.emitWarning(message, { code })
}
