import test from 'ava'
import { EmbeddedChannel } from '../src/testing.js'
import { FlushConsolidationHandler } from '../src/FlushConsolidationHandler.js'
import type { ChannelHandler } from '../src/ChannelHandler.js'

/** Sits next to the head and counts the flushes that get through. */
function flushCounter(): ChannelHandler & { flushes: number } {
  return {
    flushes: 0,
    flush(ctx) {
      this.flushes++
      ctx.flush()
    },
  }
}

/** Answers every read with writeAndFlush. */
const echo: ChannelHandler = {
  sharable: true,
  channelRead(ctx, m) {
    ctx.writeAndFlush(m)
  },
}

test('turns the flushes of a read batch into one flush at channelReadComplete', (t) => {
  const counter = flushCounter()
  const ch = new EmbeddedChannel(counter, new FlushConsolidationHandler(), echo)
  ch.writeInbound('a', 'b', 'c')
  t.is(counter.flushes, 1)
  t.deepEqual(ch.outboundMessages, ['a', 'b', 'c'])
})

test('flushes for real after explicitFlushAfterFlushes held flushes', (t) => {
  const counter = flushCounter()
  const ch = new EmbeddedChannel(counter, new FlushConsolidationHandler({ explicitFlushAfterFlushes: 2 }), echo)
  ch.pipeline.fireChannelRead('a')
  t.is(counter.flushes, 0)
  ch.pipeline.fireChannelRead('b')
  t.is(counter.flushes, 1)
  ch.pipeline.fireChannelRead('c')
  t.deepEqual(ch.outboundMessages, ['a', 'b'])
  ch.pipeline.fireChannelReadComplete()
  t.is(counter.flushes, 2)
  t.deepEqual(ch.outboundMessages, ['a', 'b', 'c'])
})

test('lets a flush outside a read batch through at once by default', (t) => {
  const counter = flushCounter()
  const ch = new EmbeddedChannel(counter, new FlushConsolidationHandler())
  ch.writeOutbound('x')
  ch.writeOutbound('y')
  t.is(counter.flushes, 2)
})

test('consolidates flushes outside a read batch into one per synchronous run when asked', async (t) => {
  const counter = flushCounter()
  const ch = new EmbeddedChannel(counter, new FlushConsolidationHandler({ consolidateWhenNoReadInProgress: true }))
  ch.writeOutbound('x')
  ch.writeOutbound('y')
  t.is(counter.flushes, 0)
  await Promise.resolve()
  t.is(counter.flushes, 1)
  t.deepEqual(ch.outboundMessages, ['x', 'y'])
})

test('flushes what it holds before a close, on an error and when removed', async (t) => {
  const counter = flushCounter()
  const handler = new FlushConsolidationHandler()
  const ch = new EmbeddedChannel(counter, handler, echo)
  ch.pipeline.fireChannelRead('a')
  t.is(handler.pendingFlushes, 1)
  ch.pipeline.fireExceptionCaught(new Error('boom'))
  t.is(counter.flushes, 1)
  ch.pipeline.fireChannelRead('b')
  ch.pipeline.remove(handler)
  t.is(counter.flushes, 2)
  t.deepEqual(ch.outboundMessages, ['a', 'b'])

  const counter2 = flushCounter()
  const ch2 = new EmbeddedChannel(counter2, new FlushConsolidationHandler(), echo)
  ch2.pipeline.fireChannelRead('c')
  await ch2.close()
  t.is(counter2.flushes, 1)
})
