import test from 'ava'
import type { ExecutionContext } from 'ava'
import type { BootstrapOptions, Channel, ChannelHandlerContext } from '../src/index.js'
import { Bootstrap } from '../src/index.js'
import { decodeRefusalNotice, encodeRefusalNotice, MAX_NOTICE } from '../src/internal/TlsRefusalNotice.js'
import { DevCertificateAuthority } from '../src/testing.js'
import { testCerts } from './helpers/certs.js'
import { Collector, HOST, addFraming, echoServer, until } from './helpers/net.js'

// tlsRefusalNotices: the side that refuses the peer's certificate says why, the other side hears it.

test('a notice is one line: verdict and printable text, at most 256 bytes; anything else is data', (t) => {
  const n = encodeRefusalNotice('CERT_HAS_EXPIRED', 'certificate has expired')
  t.deepEqual(decodeRefusalNotice(n), { verdict: 'CERT_HAS_EXPIRED', text: 'certificate has expired' })
  t.is(decodeRefusalNotice(n.subarray(0, 5)), 'more')
  t.is(decodeRefusalNotice(n.subarray(0, 25)), 'more')
  t.is(decodeRefusalNotice(Buffer.from('HELIOS\u0001\u0004')), undefined)
  t.is(decodeRefusalNotice(Buffer.from([0, 0x48, 0x45, 0x4c, 0x4c])), undefined, 'starts like one, then differs')
  const odd = encodeRefusalNotice('bad verdict!', `a\u0000b\u00e9${'x'.repeat(400)}`)
  t.is(odd.length, MAX_NOTICE)
  const back = decodeRefusalNotice(odd)
  t.true(typeof back === 'object' && back.verdict === 'UNKNOWN' && back.text.startsWith('a?b?x'))
  t.is(decodeRefusalNotice(Buffer.concat([odd.subarray(0, -1), Buffer.from('zz')])), undefined, 'no newline within 256 bytes')
})

function clientTls(key?: string, cert?: string): BootstrapOptions {
  return { tlsRefusalNotices: true, tls: { ca: testCerts().ca, ...(key !== undefined ? { key, cert } : {}) } }
}

async function refusedByServer(t: ExecutionContext, client: BootstrapOptions, verdict: RegExp): Promise<void> {
  const c = testCerts()
  const { server, port, errors } = await echoServer(t, 'tls', {
    tlsRefusalNotices: true,
    tls: { key: c.serverKey, cert: c.serverCert, ca: c.ca, requestCert: true },
  })
  const err = await t.throwsAsync(
    new Bootstrap()
      .transport('tls')
      .options(client)
      .handler((ch) => addFraming(ch))
      .connect(port, HOST),
  )
  t.is((err as { code?: string } | undefined)?.code, 'ERR_TLS_HANDSHAKE')
  t.regex(err?.message ?? '', new RegExp(`failed: the server refused this client's certificate \\(${verdict.source}\\)$`))
  await until(() => errors.length > 0)
  t.regex(errors[0]?.message ?? '', new RegExp(`failed: client certificate refused \\(${verdict.source.replace(/:.*$/, '')}\\)$`))
  t.is(server.handshakeFailures, 1)
  t.is(server.children.size, 0)
}

test('a server that refuses a client certificate names the verdict, and the client hears it', async (t) => {
  const c = testCerts()
  await refusedByServer(t, clientTls(c.untrustedKey, c.untrustedCert), /DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate/)
})

test('a client without a certificate hears NO_CERTIFICATE', async (t) => {
  await refusedByServer(t, clientTls(), /NO_CERTIFICATE: the peer sent no certificate/)
})

test('a client certificate of another CA, and an expired one, are named as such on both sides', async (t) => {
  const other = DevCertificateAuthority.create({ commonName: 'Other CA', days: 2 }).issue({ usage: ['clientAuth'], days: 2 })
  await refusedByServer(t, clientTls(other.key, other.cert), /UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate/)
  // The test CA's own key is gone once it issued its certificates: a second CA of the same name
  // signs a certificate that expires in a second.
  const ca = DevCertificateAuthority.create({ commonName: 'Expiring CA', days: 2 })
  const expiring = ca.issue({ usage: ['clientAuth'], days: 1 / 86_400 })
  await new Promise((r) => setTimeout(r, 1200))
  const c = testCerts()
  const { server, port, errors } = await echoServer(t, 'tls', {
    tlsRefusalNotices: true,
    tls: { key: c.serverKey, cert: c.serverCert, ca: [c.ca, ca.cert], requestCert: true },
  })
  const err = await t.throwsAsync(
    new Bootstrap()
      .transport('tls')
      .options({ tlsRefusalNotices: true, tls: { ca: c.ca, key: expiring.key, cert: expiring.cert } })
      .handler((ch) => addFraming(ch))
      .connect(port, HOST),
  )
  t.regex(err?.message ?? '', /the server refused this client's certificate \(CERT_HAS_EXPIRED: certificate has expired\)$/)
  await until(() => errors.length > 0)
  t.regex(errors[0]?.message ?? '', /client certificate refused \(CERT_HAS_EXPIRED\)$/)
  t.is(server.children.size, 0)
})

test('a client that refuses the server certificate names the verdict, and the server hears it', async (t) => {
  const c = testCerts()
  const heard: Error[] = []
  const { server, port } = await echoServer(
    t,
    'tls',
    { tlsRefusalNotices: true, tls: { key: c.serverKey, cert: c.serverCert } },
    (ch: Channel) => {
      ch.pipeline.addLast('heard', {
        exceptionCaught(_ctx: ChannelHandlerContext, e: Error) {
          heard.push(e)
        },
      })
    },
  )
  const err = await t.throwsAsync(
    new Bootstrap()
      .transport('tls')
      .options({ tlsRefusalNotices: true, tls: { ca: c.ca, servername: 'wrong.example' } })
      .handler((ch) => addFraming(ch))
      .connect(port, HOST),
  )
  t.regex(
    err?.message ?? '',
    /failed: Hostname\/IP does not match certificate's altnames: Host: wrong\.example\. is not in the cert's altnames/,
  )
  await until(() => heard.length > 0)
  t.regex(heard[0]?.message ?? '', /failed: the client refused our certificate \(ERR_TLS_CERT_ALTNAME_INVALID: Hostname\/IP does not match/)
  t.is((heard[0] as { code?: string }).code, 'ERR_TLS_HANDSHAKE')
  await until(() => server.children.size === 0)
  t.is(server.handshakeFailures, 1)
})

test('with notices on, trusted peers talk as before, whatever their first bytes', async (t) => {
  const c = testCerts()
  const { port } = await echoServer(t, 'tls', {
    tlsRefusalNotices: true,
    tls: { key: c.serverKey, cert: c.serverCert, ca: c.ca, requestCert: true },
  })
  const collector = new Collector()
  const ch = await new Bootstrap()
    .transport('tls')
    .options(clientTls(c.clientKey, c.clientCert))
    .handler((x) => {
      addFraming(x)
      x.pipeline.addLast('c', collector)
    })
    .connect(port, 'localhost')
  // A frame whose payload starts like a notice: the length header comes first on the wire anyway,
  // and a raw write that starts with the notice's first bytes is passed on once it differs.
  ch.writeAndFlush(Buffer.from('\u0000HELIOS-TLS-REF but not a notice'))
  await collector.next(1)
  t.is(Buffer.from(collector.messages[0] as Uint8Array).toString(), '\u0000HELIOS-TLS-REF but not a notice')
  await ch.close()
})

test('a client without a certificate cannot get in by resuming the session of its refused connection', async (t) => {
  const c = testCerts()
  const { server, port, children } = await echoServer(t, 'tls', {
    tlsRefusalNotices: true,
    tls: { key: c.serverKey, cert: c.serverCert, ca: c.ca, requestCert: true },
  })
  const { connect } = await import('node:tls')
  /** A raw TLS client without a certificate: the session tickets it got, and whether the server kept it. */
  const attempt = (session?: Buffer): Promise<{ sessions: Buffer[]; resumed: boolean; accepted: boolean }> =>
    new Promise((resolve) => {
      const sessions: Buffer[] = []
      let resumed = false
      const s = connect({ host: HOST, port, ca: c.ca, servername: 'localhost', ...(session !== undefined ? { session } : {}) })
      s.on('session', (b: Buffer) => sessions.push(b))
      s.on('secureConnect', () => {
        resumed = s.isSessionReused()
        s.write(Buffer.from([0, 0, 0, 1, 42]))
      })
      s.on('error', () => {})
      const done = (): void => resolve({ sessions, resumed, accepted: children.length > 0 })
      s.on('close', done)
      setTimeout(() => s.destroy(), 1500).unref()
    })
  const first = await attempt()
  t.false(first.accepted)
  for (const ticket of first.sessions) {
    const again = await attempt(ticket)
    t.false(again.accepted, `resumed: ${again.resumed}`)
  }
  t.is(children.length, 0)
  t.is(server.children.size, 0)
})
