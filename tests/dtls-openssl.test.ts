import test from 'ava'
import type { ExecutionContext } from 'ava'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bootstrap, type DtlsChannel, DtlsHandshakeError, ServerBootstrap } from '@helios/transport'
import { DevCertificateAuthority, selfSignedCertificate } from '@helios/transport/testing'

// Interoperability with a DTLS implementation Helios did not write: OpenSSL's `s_server` and
// `s_client` with `-dtls1_2`, as child processes, in both directions, with mutual authentication,
// and refused when either side's certificate does not verify. `.ci/run` installs openssl when it
// is missing; outside CI the tests are skipped without it.

const HOST = '127.0.0.1'
const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0
const run = hasOpenssl || process.env.CI !== undefined ? test : test.skip

interface Material {
  readonly dir: string
  readonly ca: string
  readonly key: string
  readonly cert: string
  readonly untrustedKey: string
  readonly untrustedCert: string
  /** Files for openssl. */
  readonly files: { ca: string; key: string; cert: string; untrustedKey: string; untrustedCert: string; otherCa: string }
}

let material: Material | undefined

function certs(): Material {
  if (material !== undefined) return material
  const dir = mkdtempSync(join(tmpdir(), 'helios-dtls-openssl-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const authority = DevCertificateAuthority.create({ days: 2 })
  const node = authority.issue({ days: 2 })
  const untrusted = selfSignedCertificate({ days: 2 })
  const other = DevCertificateAuthority.create({ commonName: 'Another CA', days: 2 })
  const write = (name: string, text: string): string => {
    const f = join(dir, name)
    writeFileSync(f, text)
    return f
  }
  material = {
    dir,
    ca: authority.cert,
    key: node.key,
    cert: node.cert,
    untrustedKey: untrusted.key,
    untrustedCert: untrusted.cert,
    files: {
      ca: write('ca.pem', authority.cert),
      key: write('key.pem', node.key),
      cert: write('cert.pem', node.cert),
      untrustedKey: write('untrusted.key', untrusted.key),
      untrustedCert: write('untrusted.pem', untrusted.cert),
      otherCa: write('other-ca.pem', other.cert),
    },
  }
  return material
}

/** A child openssl process whose stdout and stderr are collected. */
interface OpenSsl {
  readonly child: ChildProcess
  output(): string
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  exited: Promise<number | null>
}

function openssl(t: ExecutionContext, args: string[]): OpenSsl {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  const waiters: (() => void)[] = []
  const onData = (b: Buffer): void => {
    out += b.toString()
    for (const w of waiters.splice(0)) w()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`openssl printed no ${pattern} within ${timeoutMs} ms; it printed:\n${out}`)),
          timeoutMs,
        )
        const check = (): void => {
          const m = out.match(pattern)
          if (m !== null) {
            clearTimeout(timer)
            resolve(m)
          } else waiters.push(check)
        }
        check()
      })
    },
  }
}

/** The lines of openssl's output worth a log line (no PEM, no session dump). */
function summary(text: string): string {
  return text
    .split('\n')
    .filter(
      (l) =>
        /verify|error|alert|Cipher is|CONNECTED|DONE|ACCEPT|hello|echo|Verification|depth|shutting|ERROR/i.test(l) && !l.startsWith('    '),
    )
    .map((l) => `  openssl| ${l}`)
    .join('\n')
}

async function sServer(t: ExecutionContext, cert: string, key: string, caFile: string): Promise<{ s: OpenSsl; port: number }> {
  const s = openssl(t, [
    's_server',
    '-dtls1_2',
    '-accept',
    `${HOST}:0`,
    '-cert',
    cert,
    '-key',
    key,
    '-CAfile',
    caFile,
    '-Verify',
    '1',
    '-verify_return_error',
  ])
  const m = await s.waitFor(/ACCEPT \S*:(\d+)/)
  return { s, port: Number(m[1]) }
}

function heliosClient(tls: Record<string, unknown>, received: string[]): Bootstrap {
  return new Bootstrap()
    .transport('dtls')
    .options({ tls, handshakeTimeoutMs: 5000 })
    .handler((ch) => {
      ch.pipeline.addLast('in', {
        channelRead: (_ctx, b) => {
          received.push(Buffer.from(b as Uint8Array).toString())
        },
      })
    })
}

async function heliosServer(t: ExecutionContext, tls: Record<string, unknown>) {
  const errors: DtlsHandshakeError[] = []
  const received: string[] = []
  const server = await new ServerBootstrap()
    .transport('dtls')
    .options({ tls, onError: (e) => errors.push(e as DtlsHandshakeError) })
    .childHandler((ch) => {
      ch.pipeline.addLast('echo', {
        channelRead: (ctx, b) => {
          const text = Buffer.from(b as Uint8Array).toString()
          received.push(text)
          ctx.writeAndFlush(Buffer.from(`echo from helios: ${text}`))
        },
      })
    })
    .bind(0, HOST)
  t.teardown(() => server.close())
  return { server, port: server.localAddress?.port as number, errors, received }
}

async function until(predicate: () => boolean, what: () => string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

run('Helios client to OpenSSL s_server -dtls1_2, mutual authentication: data both ways', async (t) => {
  const c = certs()
  const { s, port } = await sServer(t, c.files.cert, c.files.key, c.files.ca)
  const received: string[] = []
  const ch = (await heliosClient({ ca: c.ca, key: c.key, cert: c.cert, servername: 'localhost' }, received).connect(
    port,
    HOST,
  )) as DtlsChannel
  t.log(
    `connected to openssl s_server on ${port}: ${ch.cipherSuite}, handshake ${ch.handshakeMs.toFixed(1)} ms, server ${ch.peerCertificate?.subject}`,
  )
  ch.writeAndFlush(Buffer.from('hello from helios\n'))
  await s.waitFor(/hello from helios/)
  s.child.stdin?.write('hello from openssl\n')
  await until(
    () => received.join('').includes('hello from openssl'),
    () => s.output(),
  )
  await ch.close()
  t.log(`openssl s_server said:\n${summary(s.output())}`)
  t.log(`helios received: ${JSON.stringify(received)}`)
  t.regex(s.output(), /verify return:1/)
  t.pass()
})

run('OpenSSL s_client -dtls1_2 to a Helios server, mutual authentication: data echoed', async (t) => {
  const c = certs()
  const { port, received, errors } = await heliosServer(t, { key: c.key, cert: c.cert, ca: c.ca, requestCert: true })
  const s = openssl(t, [
    's_client',
    '-dtls1_2',
    '-connect',
    `${HOST}:${port}`,
    '-CAfile',
    c.files.ca,
    '-cert',
    c.files.cert,
    '-key',
    c.files.key,
    '-verify_return_error',
    '-verify_hostname',
    'localhost',
  ])
  s.child.stdin?.write('hello from openssl\n')
  await s.waitFor(/echo from helios: hello from openssl/)
  s.child.stdin?.end()
  await s.exited
  t.log(`openssl s_client said:\n${summary(s.output())}`)
  t.deepEqual(received, ['hello from openssl\n'])
  t.deepEqual(errors, [])
})

run(
  'refused: Helios client with a certificate OpenSSL does not trust; OpenSSL server with a certificate Helios does not trust',
  async (t) => {
    const c = certs()
    // 1. OpenSSL refuses our certificate: we hear its alert.
    const one = await sServer(t, c.files.cert, c.files.key, c.files.ca)
    const err1 = await t.throwsAsync(
      heliosClient({ ca: c.ca, key: c.untrustedKey, cert: c.untrustedCert, servername: 'localhost' }, []).connect(one.port, HOST),
    )
    t.true(err1 instanceof DtlsHandshakeError)
    t.is((err1 as DtlsHandshakeError).reason, 'alert')
    await one.s.waitFor(/verify error|certificate verify failed/)
    t.log(`Helios client, untrusted certificate: ${err1?.message}`)
    t.log(`openssl s_server said:\n${summary(one.s.output())}`)
    // 2. We refuse OpenSSL's certificate (self-signed).
    const two = await sServer(t, c.files.untrustedCert, c.files.untrustedKey, c.files.ca)
    const err2 = await t.throwsAsync(
      heliosClient({ ca: c.ca, key: c.key, cert: c.cert, servername: 'localhost' }, []).connect(two.port, HOST),
    )
    t.is((err2 as DtlsHandshakeError).reason, 'certificate')
    t.is((err2 as DtlsHandshakeError).verdict, 'DEPTH_ZERO_SELF_SIGNED_CERT')
    await two.s.waitFor(/alert|error/i)
    t.log(`Helios client, untrusted server: ${err2?.message}`)
    t.log(`openssl s_server said:\n${summary(two.s.output())}`)
  },
)

run('refused: OpenSSL client with a certificate Helios does not trust; OpenSSL client that does not trust the Helios server', async (t) => {
  const c = certs()
  const { port, errors, received } = await heliosServer(t, { key: c.key, cert: c.cert, ca: c.ca, requestCert: true })
  const one = openssl(t, [
    's_client',
    '-dtls1_2',
    '-connect',
    `${HOST}:${port}`,
    '-CAfile',
    c.files.ca,
    '-cert',
    c.files.untrustedCert,
    '-key',
    c.files.untrustedKey,
  ])
  await until(
    () => errors.length === 1,
    () => one.output(),
  )
  one.child.stdin?.end()
  await one.exited
  t.is(errors[0]?.reason, 'certificate')
  t.is(errors[0]?.verdict, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  t.log(`Helios server: ${errors[0]?.message}`)
  t.log(`openssl s_client said:\n${summary(one.output())}`)
  t.regex(one.output(), /alert unknown ca|unknown ca/i)

  const two = openssl(t, [
    's_client',
    '-dtls1_2',
    '-connect',
    `${HOST}:${port}`,
    '-CAfile',
    c.files.otherCa,
    '-cert',
    c.files.cert,
    '-key',
    c.files.key,
    '-verify_return_error',
  ])
  await until(
    () => errors.length === 2,
    () => two.output(),
  )
  two.child.stdin?.end()
  await two.exited
  t.is(errors[1]?.reason, 'alert')
  t.log(`Helios server: ${errors[1]?.message}`)
  t.log(`openssl s_client said:\n${summary(two.output())}`)
  t.regex(two.output(), /verify error|certificate verify failed/)
  t.deepEqual(received, [])
})
