import test from 'ava'
import type { ChannelHandler, ChannelHandlerContext } from '../src/index.js'
import { PipelineError } from '../src/index.js'
import { EmbeddedChannel } from '../src/testing.js'

function recorder(log: string[], id: string): ChannelHandler {
  return {
    channelRead(ctx, msg) {
      log.push(`in${id}`)
      ctx.fireChannelRead(msg)
    },
    write(ctx, msg, cb) {
      log.push(`out${id}`)
      ctx.write(msg, cb)
    },
  }
}

test('inbound events run head to tail and outbound operations tail to head', (t) => {
  const log: string[] = []
  const ch = new EmbeddedChannel(recorder(log, '1'), recorder(log, '2'), recorder(log, '3'))
  ch.writeInbound('m')
  ch.writeOutbound('w')
  t.deepEqual(log, ['in1', 'in2', 'in3', 'out3', 'out2', 'out1'])
  t.is(ch.readInbound(), 'm')
  t.is(ch.readOutbound(), 'w')
})

test('handlers without a method are skipped for that event', (t) => {
  const log: string[] = []
  const ch = new EmbeddedChannel(
    {
      write(ctx, m, cb) {
        log.push('w')
        ctx.write(m, cb)
      },
    },
    recorder(log, 'x'),
  )
  ch.writeInbound(1)
  ch.writeOutbound(2)
  t.deepEqual(log, ['inx', 'outx', 'w'])
})

test('the tail counts and reports messages, events and errors nobody handled', (t) => {
  const ch = new EmbeddedChannel()
  const seen: string[] = []
  ch.pipeline.onUnhandled = (r) => seen.push(r.kind)
  ch.pipeline.fireChannelRead('lost')
  ch.pipeline.fireUserEventTriggered({ e: 1 })
  ch.pipeline.fireExceptionCaught(new Error('boom'))
  t.deepEqual(ch.pipeline.unhandled, { messages: 1, errors: 1, events: 1 })
  t.deepEqual(seen, ['message', 'event', 'error'])
})

test('addFirst, addBefore, addAfter, replace and remove keep the chain in order', (t) => {
  const ch = new EmbeddedChannel()
  const p = ch.pipeline
  p.addLast('c', {}).addFirst('a', {}).addBefore('c', 'b', {}).addAfter('c', 'd', {})
  t.deepEqual(p.names(), ['a', 'b', 'c', 'd'])
  const old = p.get('b')!
  const returned = p.replace('b', 'b2', {})
  t.is(returned, old)
  p.remove('d')
  t.deepEqual(p.names(), ['a', 'b2', 'c'])
  t.throws(() => p.addLast('a', {}), { instanceOf: PipelineError, message: /duplicate/ })
  t.throws(() => p.remove('nope'), { instanceOf: PipelineError })
})

test('a handler that is not sharable cannot join a second pipeline, a sharable one can', (t) => {
  const h: ChannelHandler = {}
  new EmbeddedChannel(h)
  t.throws(() => new EmbeddedChannel(h), { instanceOf: PipelineError, message: /sharable/ })
  const s: ChannelHandler = { sharable: true }
  new EmbeddedChannel(s)
  t.notThrows(() => new EmbeddedChannel(s))
})

test('handlerAdded and handlerRemoved are called, also when the channel closes', async (t) => {
  const log: string[] = []
  const h: ChannelHandler = { handlerAdded: () => log.push('added'), handlerRemoved: () => log.push('removed') }
  const ch = new EmbeddedChannel(h)
  t.deepEqual(log, ['added'])
  await ch.close()
  t.deepEqual(log, ['added', 'removed'])
})

test('a handler can remove itself and add another while a read is passing through', (t) => {
  const log: string[] = []
  const auth: ChannelHandler = {
    channelRead(ctx, msg) {
      log.push(`auth:${String(msg)}`)
      ctx.pipeline.addAfter(ctx.name, 'session', {
        channelRead(c, m) {
          log.push(`session:${String(m)}`)
          c.fireChannelRead(m)
        },
      })
      ctx.pipeline.remove(ctx.handler)
      ctx.fireChannelRead(msg)
    },
  }
  const ch = new EmbeddedChannel(auth)
  ch.writeInbound('login', 'data')
  t.deepEqual(log, ['auth:login', 'session:login', 'session:data'])
  t.deepEqual(ch.inboundMessages, ['login', 'data'])
})

test('a synchronous throw in channelRead becomes exceptionCaught on the same handler', (t) => {
  const errors: string[] = []
  const ch = new EmbeddedChannel({
    channelRead() {
      throw new Error('bad')
    },
    exceptionCaught(_ctx, e) {
      errors.push(e.message)
    },
  })
  ch.writeInbound(1)
  t.deepEqual(errors, ['bad'])
})

test('an exceptionCaught that throws is reported at the tail instead of looping', (t) => {
  const ch = new EmbeddedChannel({
    exceptionCaught() {
      throw new Error('again')
    },
  })
  ch.pipeline.fireExceptionCaught(new Error('first'))
  t.is(ch.errors.length, 1)
  t.is(ch.errors[0]?.message, 'again')
})

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

test('an async channelRead delivers the next message only after the previous settled, and suspends reads meanwhile', async (t) => {
  const started: number[] = []
  const gates: ReturnType<typeof deferred>[] = []
  const ch = new EmbeddedChannel({
    channelRead(ctx, msg) {
      started.push(msg as number)
      const d = deferred()
      gates.push(d)
      return d.promise.then(() => ctx.fireChannelRead(msg))
    },
  })
  ch.writeInbound(1, 2, 3)
  t.deepEqual(started, [1])
  t.true(ch.isReadSuspended)
  gates[0]!.resolve()
  await new Promise((r) => setImmediate(r))
  t.deepEqual(started, [1, 2])
  gates[1]!.resolve()
  await new Promise((r) => setImmediate(r))
  gates[2]!.resolve()
  await new Promise((r) => setImmediate(r))
  t.deepEqual(started, [1, 2, 3])
  t.deepEqual(ch.inboundMessages, [1, 2, 3])
  t.false(ch.isReadSuspended)
})

test('a handler with concurrency 3 runs three reads at once and suspends reads only when saturated', async (t) => {
  let running = 0
  let maxRunning = 0
  const gates: ReturnType<typeof deferred>[] = []
  const ch = new EmbeddedChannel({
    concurrency: 3,
    channelRead(ctx, msg) {
      running++
      maxRunning = Math.max(maxRunning, running)
      const d = deferred()
      gates.push(d)
      return d.promise.then(() => {
        running--
        ctx.fireChannelRead(msg)
      })
    },
  })
  ch.writeInbound(1, 2)
  t.false(ch.isReadSuspended)
  ch.writeInbound(3, 4, 5)
  t.true(ch.isReadSuspended)
  t.is(running, 3)
  while (gates.length > 0) {
    gates.shift()!.resolve()
    await new Promise((r) => setImmediate(r))
  }
  t.is(maxRunning, 3)
  t.deepEqual([...ch.inboundMessages].sort(), [1, 2, 3, 4, 5])
  t.false(ch.isReadSuspended)
})

test('a rejected channelRead promise becomes exceptionCaught and the next message still arrives', async (t) => {
  const errors: string[] = []
  let n = 0
  const ch = new EmbeddedChannel({
    async channelRead(ctx, msg) {
      if (n++ === 0) throw new Error('first failed')
      ctx.fireChannelRead(msg)
    },
    exceptionCaught(_ctx, e) {
      errors.push(e.message)
    },
  })
  ch.writeInbound('a', 'b')
  await new Promise((r) => setImmediate(r))
  t.deepEqual(errors, ['first failed'])
  t.deepEqual(ch.inboundMessages, ['b'])
})

test('channelReadComplete and channelInactive wait behind pending async reads', async (t) => {
  const log: string[] = []
  const d = deferred()
  const ch = new EmbeddedChannel(
    {
      channelRead(ctx, m) {
        return d.promise.then(() => ctx.fireChannelRead(m))
      },
    },
    {
      channelRead(_c, m) {
        log.push(`read:${String(m)}`)
      },
      channelReadComplete() {
        log.push('complete')
      },
      channelInactive() {
        log.push('inactive')
      },
    },
  )
  ch.writeInbound('x')
  ch.disconnect()
  t.deepEqual(log, [])
  d.resolve()
  await new Promise((r) => setImmediate(r))
  t.deepEqual(log, ['read:x', 'complete', 'inactive'])
})

test('writes buffer until flush and writability follows the watermarks', (t) => {
  const flips: boolean[] = []
  const ch = new EmbeddedChannel(
    { waterMark: { low: 4, high: 8 }, autoDrain: false },
    {
      channelWritabilityChanged(ctx: ChannelHandlerContext) {
        flips.push(ctx.channel.isWritable)
      },
    },
  )
  ch.write(Buffer.alloc(5))
  t.true(ch.isWritable)
  t.is(ch.outboundMessages.length, 0)
  ch.write(Buffer.alloc(5))
  t.false(ch.isWritable)
  ch.flush()
  t.is(ch.outboundMessages.length, 2)
  t.false(ch.isWritable, 'bytes still held by the slow transport')
  ch.drain()
  t.true(ch.isWritable)
  t.deepEqual(flips, [false, true])
})

test('writes after close fail their callback with ERR_CHANNEL_CLOSED, unflushed writes fail on close', async (t) => {
  const ch = new EmbeddedChannel()
  const results: (string | undefined)[] = []
  ch.write(Buffer.from('a'), (e) => results.push((e as { code?: string } | undefined)?.code))
  ch.disconnect()
  ch.write(Buffer.from('b'), (e) => results.push((e as { code?: string } | undefined)?.code))
  ch.write(Buffer.from('c'))
  t.deepEqual(results, ['ERR_CHANNEL_CLOSED', 'ERR_CHANNEL_CLOSED'])
  t.is(ch.failedWrites, 1)
  await ch.closed
  t.false(ch.isActive)
})
