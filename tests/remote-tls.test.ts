import test from 'ava'
import { ActorSystem, type HandshakeFailedEvent } from '@helios/actors'
import { trustedTls, untrustedTls } from './support/certs.js'

test('a node whose certificate does not verify never associates, and both sides publish why', async (t) => {
  const good = await ActorSystem.create('Good', {
    remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls: trustedTls(), reconnectMaxBackoffMs: 200 },
  })
  const evil = await ActorSystem.create('Evil', {
    remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls: untrustedTls(), reconnectMaxBackoffMs: 200 },
  })
  t.teardown(async () => {
    await evil.terminate()
    await good.terminate()
  })
  good.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const associated: string[] = []
  for (const s of [good, evil]) s.events.on('associated', (e) => associated.push(e.remote.toString()))
  const goodSaw = new Promise<HandshakeFailedEvent>((resolve) => good.events.once('handshakeFailed', resolve))
  const evilSaw = new Promise<HandshakeFailedEvent>((resolve) => evil.events.once('handshakeFailed', resolve))
  const received: unknown[] = []
  good.actorOf((m) => {
    received.push(m)
  }, 'inbox')
  evil.resolveActorRef(`${good.address.toString()}/user/inbox`).tell('let me in')
  const [g, e] = await Promise.all([goodSaw, evilSaw])
  t.true(g.inbound)
  t.false(e.inbound)
  t.regex(`${g.reason} ${e.reason}`, /certificate|verify|handshake|alert/i)
  await t.throwsAsync(evil.actorSelection(`${good.address.toString()}/user/echo`).resolveOne({ timeoutMs: 1500 }))
  t.deepEqual(associated, [])
  t.deepEqual(received, [])
})

test('mutual TLS between trusted nodes associates and carries messages', async (t) => {
  const a = await ActorSystem.create('A', { remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls: trustedTls() } })
  const b = await ActorSystem.create('B', { remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls: trustedTls() } })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'over tls', { timeoutMs: 5000 }), 'over tls')
  t.is(a.associations()[0]?.state, 'established')
})
