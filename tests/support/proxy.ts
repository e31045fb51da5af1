/**
 * The proxied node pair, `freePort` and `FAST_REMOTING` live in ./faultProxy.ts (a proxy that
 * also black-holes, delays and refuses); this module keeps the old import path working.
 */
export { FAST_REMOTING, freePort, proxiedPair, startFaultProxy, type FaultProxy, type LaneInfo } from './faultProxy.js'
