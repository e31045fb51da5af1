/**
 * The child side of the command protocol of lib/faultCluster.ts (spawnNode): the node programs of
 * the faults, hostile and mesh benchmarks (faultNode, hostileNode, hostileAttacker, meshNode) get
 * their commands from the parent over IPC and answer each one. Importing this module makes the
 * process exit once the parent is gone (even killed): nothing is left to report to, and it is
 * registered before the importer's own start-up work.
 */

process.on('disconnect', () => process.exit(0))

/** Sends `m` to the parent, if it is still there. */
export function sendToParent(m: unknown): void {
  if (process.connected) process.send?.(m)
}

/** An error in one line: its code (or name) and the first line of its message. */
export function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string }
  return `${e?.code ?? e?.name ?? 'Error'}: ${(e?.message ?? String(err)).split('\n')[0]}`
}

/**
 * Answers every command `{ id, cmd, ... }` from the parent with `{ type: 'reply', id, ok, result }`
 * (or `error`, see {@link errorText}).
 */
export function serveParent<C>(handle: (command: C) => Promise<unknown>): void {
  process.on('message', (raw) => {
    const { id, ...command } = raw as { id: number }
    handle(command as C).then(
      (result) => sendToParent({ type: 'reply', id, ok: true, result }),
      (err: unknown) => sendToParent({ type: 'reply', id, ok: false, error: errorText(err) }),
    )
  })
}
