import test from 'ava'
import { EmbeddedChannel } from '../src/testing.js'
import { LoggingHandler } from '../src/LoggingHandler.js'
import { CorruptedFrameError } from '../src/errors.js'

test('logs every inbound event and outbound operation and passes each on unchanged', async (t) => {
  const lines: string[] = []
  const ch = new EmbeddedChannel(new LoggingHandler({ name: 'wire', logger: (l) => lines.push(l) }))
  const payload = Buffer.from('HELLO')
  ch.writeInbound(payload, { kind: 'pdu' })
  ch.pipeline.fireUserEventTriggered('evt')
  ch.pipeline.fireExceptionCaught(new CorruptedFrameError('bad'))
  ch.writeOutbound(Buffer.from([1, 2]))
  await ch.close()
  t.is(ch.readInbound(), payload)
  t.deepEqual(ch.readInbound(), { kind: 'pdu' })
  t.deepEqual(ch.userEvents, ['evt'])
  t.is(ch.errors.length, 1)
  t.deepEqual(ch.outboundMessages, [Buffer.from([1, 2])])
  const what = lines.map((l) => l.replace(/^\[wire\] embedded-\d+ /, ''))
  t.deepEqual(what, [
    'HANDLER ADDED',
    'ACTIVE embedded:0 -> embedded:0',
    'READ 5B 48454c4c4f',
    "READ { kind: 'pdu' }",
    'READ COMPLETE',
    "USER EVENT 'evt'",
    'EXCEPTION CorruptedFrameError [ERR_CORRUPTED_FRAME]: bad',
    'WRITE 2B 0102',
    'FLUSH',
    'CLOSE',
    'INACTIVE',
    'HANDLER REMOVED',
  ])
})

test('abbreviates long binary messages', (t) => {
  const lines: string[] = []
  const ch = new EmbeddedChannel(new LoggingHandler({ logger: (l) => lines.push(l), hexDumpBytes: 2 }))
  ch.writeInbound(Buffer.from([0xaa, 0xbb, 0xcc]))
  t.true(lines.some((l) => l.endsWith('READ 3B aabb...')))
})

test('is sharable and logs through a disabled debuglog without formatting', (t) => {
  const logging = new LoggingHandler()
  const a = new EmbeddedChannel(logging)
  const b = new EmbeddedChannel(logging)
  a.writeInbound(Buffer.from('x'))
  b.writeInbound(Buffer.from('y'))
  t.is(a.inboundMessages.length, 1)
  t.is(b.inboundMessages.length, 1)
  t.is(logging.enabled, (process.env['NODE_DEBUG'] ?? '').includes('helios'))
})

test('a logger that throws does not break the pipeline', (t) => {
  const ch = new EmbeddedChannel(
    new LoggingHandler({
      logger: () => {
        throw new Error('disk full')
      },
    }),
  )
  ch.writeInbound('m')
  t.is(ch.readInbound(), 'm')
  t.is(ch.errors.length, 0)
})
