import { randomBytes, randomInt } from 'node:crypto'

/** A new actor incarnation uid: uniformly random in 1 .. 2^32-1 (fits a msgpack uint32). */
export function newActorUid(): number {
  return randomInt(1, 0x1_0000_0000)
}

/** A new node uid: 64 random bits, never 0. */
export function newNodeUid(): bigint {
  for (;;) {
    const uid = randomBytes(8).readBigUInt64BE(0)
    if (uid !== 0n) return uid
  }
}
