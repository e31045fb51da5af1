import test from 'ava'
import * as dgram from 'node:dgram'
import { ActorSystem, type HandshakeFailedEvent, type RemoteOptions } from '@helios/actors'
import { DtlsHandshakeError } from '@helios/transport'
import { trustedTls, untrustedTls } from './support/certs.js'

// Actor systems over DTLS, what is particular to it: refused handshakes are published
// (`handshakeFailed`) and counted, plaintext datagrams are refused. Fragmentation and death watch
// run over udp and dtls in remote-udp.test.ts, crashes and restarts in remote-faults.test.ts.

const dtls = (extra: Partial<RemoteOptions> = {}): RemoteOptions => ({
  transport: 'dtls',
  host: '127.0.0.1',
  port: 0,
  heartbeatIntervalMs: 200,
  systemMessageResendIntervalMs: 200,
  tls: trustedTls(),
  ...extra,
})

test('dtls: a node whose certificate does not verify never associates; both sides publish handshakeFailed with the reason', async (t) => {
  const good = await ActorSystem.create('Good', { remote: dtls() })
  const evil = await ActorSystem.create('Evil', { remote: dtls({ tls: untrustedTls() }) })
  t.teardown(async () => {
    await evil.terminate()
    await good.terminate()
  })
  const received: unknown[] = []
  good.actorOf((m) => {
    received.push(m)
  }, 'inbox')
  const associated: string[] = []
  for (const s of [good, evil]) s.events.on('associated', (e) => associated.push(e.remote.toString()))
  const goodSaw: HandshakeFailedEvent[] = []
  const evilSaw: HandshakeFailedEvent[] = []
  good.events.on('handshakeFailed', (e) => goodSaw.push(e))
  evil.events.on('handshakeFailed', (e) => evilSaw.push(e))
  evil.resolveActorRef(`${good.address.toString()}/user/inbox`).tell('let me in')
  const err = await t.throwsAsync(evil.actorSelection(`${good.address.toString()}/user/inbox`).resolveOne({ timeoutMs: 1500 }))
  t.regex(err?.message ?? '', /DTLS handshake|certificate|alert/)
  // Good refused Evil's certificate as a server; Evil refused Good's answer (self-signed CA mismatch on its side too).
  const goodErr = goodSaw.find((e) => e.inbound)?.error as DtlsHandshakeError | undefined
  t.true(goodErr instanceof DtlsHandshakeError)
  t.is(goodErr?.reason, 'certificate')
  t.is(goodErr?.verdict, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  t.true(
    evilSaw.some((e) => !e.inbound && /unknown_ca/.test(e.reason)),
    JSON.stringify(evilSaw.map((e) => e.reason)),
  )
  t.deepEqual(associated, [])
  t.deepEqual(received, [])
})

test('dtls: plaintext datagrams on a node port are refused, published at most once a second, and the node goes on', async (t) => {
  const a = await ActorSystem.create('A', { remote: dtls() })
  const b = await ActorSystem.create('B', { remote: dtls() })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  const failed: HandshakeFailedEvent[] = []
  b.events.on('handshakeFailed', (e) => failed.push(e))
  const sock = dgram.createSocket('udp4')
  t.teardown(() => sock.close())
  for (let i = 0; i < 100; i++) sock.send(Buffer.from(`plaintext ${i}`), b.address.port as number, '127.0.0.1')
  await new Promise((r) => setTimeout(r, 100))
  t.is(failed.length, 1)
  t.true(failed[0]?.inbound)
  t.is((failed[0]?.error as DtlsHandshakeError | undefined)?.reason, 'not-dtls')
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m)
  }, 'echo')
  t.regex(b.address.toString(), /^helios\.dtls:\/\/B@127\.0\.0\.1:\d+$/)
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  t.is(await a.ask(echo, 'still here', { timeoutMs: 5000 }), 'still here')
})
