import test from 'ava'
import { EmbeddedChannel, ManualClock } from '../src/testing.js'
import { IdleStateHandler } from '../src/IdleStateHandler.js'
import { IdleState, IdleStateEvent } from '../src/IdleStateEvent.js'
import { ReadTimeoutHandler } from '../src/ReadTimeoutHandler.js'
import { ReadTimeoutError } from '../src/errors.js'

const names = (events: unknown[]) => events.map(String)

test('fires a first reader-idle event after readerIdleMs without reads, then repeats', (t) => {
  const ch = new EmbeddedChannel(new IdleStateHandler({ readerIdleMs: 100 }))
  ch.advanceTime(99)
  t.deepEqual(ch.userEvents, [])
  ch.advanceTime(1)
  t.is(ch.userEvents[0], IdleStateEvent.FIRST_READER_IDLE)
  ch.advanceTime(100)
  t.is(ch.userEvents[1], IdleStateEvent.READER_IDLE)
  t.is((ch.userEvents[1] as IdleStateEvent).state, IdleState.ReaderIdle)
  t.false((ch.userEvents[1] as IdleStateEvent).first)
})

test('a read postpones reader idleness lazily, with one timer and no rescheduling per read', (t) => {
  const clock = new ManualClock()
  const ch = new EmbeddedChannel({ clock }, new IdleStateHandler({ readerIdleMs: 100 }))
  t.is(clock.pendingTimers, 1)
  for (let i = 0; i < 9; i++) {
    ch.advanceTime(10)
    ch.writeInbound('ping')
  }
  t.is(clock.pendingTimers, 1)
  ch.advanceTime(99) // t = 189, last read at 90
  t.deepEqual(ch.userEvents, [])
  ch.advanceTime(1)
  t.deepEqual(names(ch.userEvents), ['IdleStateEvent(readerIdle, first)'])
  ch.writeInbound('ping') // t = 190: a new idle period starts
  ch.advanceTime(100)
  t.deepEqual(names(ch.userEvents), ['IdleStateEvent(readerIdle, first)', 'IdleStateEvent(readerIdle, first)'])
})

test('fires writer-idle events when nothing is flushed, and a flush restarts the period', (t) => {
  const ch = new EmbeddedChannel(new IdleStateHandler({ writerIdleMs: 50 }))
  ch.advanceTime(40)
  ch.writeOutbound(Buffer.from('hb'))
  ch.advanceTime(40)
  t.deepEqual(ch.userEvents, [])
  ch.advanceTime(10)
  t.is(ch.userEvents[0], IdleStateEvent.FIRST_WRITER_IDLE)
  ch.advanceTime(50)
  t.is(ch.userEvents[1], IdleStateEvent.WRITER_IDLE)
  ch.writeOutbound(Buffer.from('hb'))
  ch.advanceTime(50)
  t.is(ch.userEvents[2], IdleStateEvent.FIRST_WRITER_IDLE)
})

test('a write that is not flushed does not count as writing', (t) => {
  const ch = new EmbeddedChannel(new IdleStateHandler({ writerIdleMs: 50 }))
  ch.advanceTime(25)
  ch.pipeline.write(Buffer.from('x'))
  ch.advanceTime(25)
  t.is(ch.userEvents[0], IdleStateEvent.FIRST_WRITER_IDLE)
})

test('fires all-idle only when neither reads nor writes happened', (t) => {
  const ch = new EmbeddedChannel(new IdleStateHandler({ allIdleMs: 100 }))
  ch.advanceTime(60)
  ch.writeInbound('r')
  ch.advanceTime(60)
  ch.writeOutbound(Buffer.from('w'))
  ch.advanceTime(99)
  t.deepEqual(ch.userEvents, [])
  ch.advanceTime(1)
  t.deepEqual(ch.userEvents, [IdleStateEvent.FIRST_ALL_IDLE])
})

test('time while reads are suspended by a saturated async handler is not reader idleness', async (t) => {
  let release!: () => void
  const ch = new EmbeddedChannel(new IdleStateHandler({ readerIdleMs: 100 }), {
    channelRead() {
      return new Promise<void>((resolve) => {
        release = resolve
      })
    },
  })
  ch.writeInbound('slow')
  t.true(ch.isReadSuspended)
  ch.advanceTime(500)
  t.deepEqual(ch.userEvents, [])
  release()
  await new Promise((r) => setImmediate(r))
  t.false(ch.isReadSuspended)
  ch.advanceTime(200)
  t.is(ch.userEvents[0], IdleStateEvent.FIRST_READER_IDLE)
})

test('stops its timers when the channel closes or the handler is removed', async (t) => {
  const clock = new ManualClock()
  const ch = new EmbeddedChannel({ clock }, new IdleStateHandler({ readerIdleMs: 10, writerIdleMs: 10, allIdleMs: 10 }))
  t.is(clock.pendingTimers, 3)
  await ch.close()
  t.is(clock.pendingTimers, 0)
  const ch2 = new EmbeddedChannel({ clock })
  ch2.pipeline.addLast('idle', new IdleStateHandler({ readerIdleMs: 10 }))
  t.is(clock.pendingTimers, 1)
  ch2.pipeline.remove('idle')
  t.is(clock.pendingTimers, 0)
  ch2.advanceTime(100)
  t.deepEqual(ch2.userEvents, [])
})

test('rejects negative times', (t) => {
  t.throws(() => new IdleStateHandler({ readerIdleMs: -1 }), { instanceOf: RangeError })
  t.throws(() => new ReadTimeoutHandler(0), { instanceOf: RangeError })
})

test('ReadTimeoutHandler closes a silent channel with ReadTimeoutError as reason', async (t) => {
  const ch = new EmbeddedChannel(new ReadTimeoutHandler(1000))
  ch.advanceTime(600)
  ch.writeInbound(Buffer.from('a'))
  ch.advanceTime(999)
  t.true(ch.isActive)
  ch.advanceTime(1)
  await ch.closed
  const err = ch.closeReason as ReadTimeoutError
  t.true(err instanceof ReadTimeoutError)
  t.is(err.code, 'ERR_READ_TIMEOUT')
  t.is(ch.errors.length, 1)
  t.is(ch.errors[0], err)
})
