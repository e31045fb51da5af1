import test from 'ava'
import { connect } from 'node:net'
import { ActorSystem, type HandshakeFailedEvent } from '@helios/actors'

// Refusals of peers: published and logged, saying why, and rate-limited (docs/SECURITY.md).

const total = (events: readonly HandshakeFailedEvent[]): number => events.reduce((n, e) => n + (e.count ?? 1), 0)

test('a flood of 1,000 refused connections from one host publishes a bounded number of handshakeFailed events whose counts add up', async (t) => {
  const node = await ActorSystem.create('Target', { remote: { transport: 'tcp', host: '127.0.0.1', port: 0 } })
  const published: HandshakeFailedEvent[] = []
  node.events.on('handshakeFailed', (e) => published.push(e))
  const port = node.address.port as number
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write('GET / HTTP/1.1\r\n\r\n'))
      s.on('error', () => {})
      s.resume()
      s.once('close', () => resolve())
    })
  for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 100 }, one))
  const during = published.length
  t.true(during <= 2, `${during} events for 1,000 refusals`)
  t.regex(published[0]?.reason ?? '', /^bad preamble/)
  await node.terminate()
  t.true(published.length <= 3)
  t.is(total(published), 1000, 'every refusal counted')
  t.true(published.slice(1).every((e) => (e.count ?? 0) > 1))
})
