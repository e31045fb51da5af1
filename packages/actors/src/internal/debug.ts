import { debuglog } from 'node:util'

/** `NODE_DEBUG=helios` output; check `debug.enabled` before building expensive arguments. */
export const debug = debuglog('helios')
