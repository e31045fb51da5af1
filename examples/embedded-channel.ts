/**
 * Testing a handler without sockets: the word handler of examples/echo-server.ts
 * (examples/lib/wordInfo.ts) in an `EmbeddedChannel` from @helios/transport/testing, with the
 * line decoder in front of it, as on the server. The test writes bytes in as if a socket had read
 * them and reads back what the handlers wrote. The same code runs under any test runner; here
 * node:assert checks it.
 *
 *   npx tsx examples/embedded-channel.ts
 */
import { strict as assert } from 'node:assert'
import { IdleStateEvent, IdleStateHandler, LineBasedFrameDecoder } from '@helios/transport'
import { EmbeddedChannel } from '@helios/transport/testing'
import { WordInfoHandler } from './lib/wordInfo.js'

const text = (m: unknown): string => Buffer.from(m as Uint8Array).toString('utf8')

/** What the handlers wrote so far, as text (the async steps need a few turns of the loop). */
async function replies(ch: EmbeddedChannel, count: number): Promise<string[]> {
  for (let i = 0; i < 100 && ch.outboundMessages.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  const out: string[] = []
  for (let m = ch.readOutbound(); m !== undefined; m = ch.readOutbound()) out.push(text(m))
  return out
}

// 1. Lines split across reads, two in one read: each answered once, in order.
{
  const ch = new EmbeddedChannel(new LineBasedFrameDecoder({ maxLength: 64 }), new WordInfoHandler())
  ch.writeInbound(Buffer.from('hel'))
  ch.writeInbound(Buffer.from('ios\nakka\n'))
  assert.deepEqual(await replies(ch, 2), ['helios: 6 letters, 3 vowels\n', 'akka: 4 letters, 2 vowels\n'])
  assert.equal(ch.readInbound(), undefined, 'the handler consumed every line')
  await ch.finish()
  console.log('ok: split and batched lines are answered once each, in order')
}

// 2. A line longer than maxLength fails in the decoder; the handler closes the channel.
{
  const ch = new EmbeddedChannel(new LineBasedFrameDecoder({ maxLength: 8 }), new WordInfoHandler())
  const original = console.error
  console.error = () => {} // the handler reports the error; keep this run quiet
  try {
    ch.writeInbound(Buffer.from('a-very-long-line-without-end'))
  } finally {
    console.error = original
  }
  await ch.closed
  assert.equal(ch.isActive, false)
  console.log('ok: an over-long line closes the connection')
}

// 3. Time is a manual clock: an idle connection is noticed without waiting.
{
  const ch = new EmbeddedChannel(new IdleStateHandler({ readerIdleMs: 30_000 }))
  ch.advanceTime(29_999)
  assert.equal(ch.userEvents.length, 0)
  ch.advanceTime(1)
  assert.equal(ch.userEvents[0], IdleStateEvent.FIRST_READER_IDLE)
  await ch.finish()
  console.log('ok: 30 s of silence are noticed after advanceTime(30_000)')
}
console.log('embedded channel: all checks passed')
