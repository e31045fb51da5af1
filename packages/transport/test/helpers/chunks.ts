import type { ChannelHandler } from '../../src/index.js'
import { EmbeddedChannel } from '../../src/testing.js'

/** Feeds `chunks` one by one to a channel whose pipeline is `decoder`; inspect `inboundMessages`. */
export function feedChunks(decoder: ChannelHandler, chunks: Uint8Array[]): EmbeddedChannel {
  const ch = new EmbeddedChannel(decoder)
  for (const c of chunks) ch.writeInbound(c)
  return ch
}

/** Feeds `input` split at every pair of offsets (i <= j): three chunks, some empty. */
export function forEverySplit(input: Buffer, check: (chunks: Uint8Array[], label: string) => void): void {
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) {
      check([input.subarray(0, i), input.subarray(i, j), input.subarray(j)], `split at ${i},${j}`)
    }
  }
}
