/** One frame as on the wire (docs/PROTOCOL.md §3): u32 big-endian length, then the payload. */
export function frame(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(payload.byteLength)
  return Buffer.concat([header, payload])
}
