import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Every program in examples/ runs as it is (with tsx, as its header says), within a timeout, and
// prints what it promises.

function run(name: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`../examples/${name}`, import.meta.url))
  const env = { ...process.env }
  delete env['HELIOS_LOG_LEVEL'] // as a user runs them: the default logger on
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { timeout: timeoutMs, env }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr })
    })
  })
}

test('echo-server: a transport-only server answers each line through a handler with an async step, in order', async (t) => {
  const r = await run('echo-server.ts')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^server listening on 127\.0\.0\.1:\d+\n/)
  t.regex(
    r.stdout,
    /client got: helios: 6 letters, 3 vowels\nclient got: netty: 5 letters, 1 vowels\nclient got: akka: 4 letters, 2 vowels\nclient got: pipeline: 8 letters, 4 vowels\n/,
  )
  t.regex(r.stdout, /echo server: every word answered, in order\n$/)
  t.is(r.stderr, '')
})

test('echo-tcp-tls-udp: one echo server and client per transport', async (t) => {
  const r = await run('echo-tcp-tls-udp.ts')
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout.match(/ ok: sent/g)?.length, 3)
  t.regex(r.stdout, /echo demo: TCP, TLS and UDP all echoed every message\n$/)
})

test('tls-cluster: three nodes over mutual TLS; when one stops, the other two get Terminated', async (t) => {
  const r = await run('tls-cluster.ts')
  t.is(r.code, 0, r.stderr)
  t.regex(
    r.stdout,
    /^cluster up: helios\.tls:\/\/alpha@127\.0\.0\.1:\d+, helios\.tls:\/\/beta@127\.0\.0\.1:\d+, helios\.tls:\/\/gamma@127\.0\.0\.1:\d+\n/,
  )
  t.regex(r.stdout, /alpha: Terminated\(helios\.tls:\/\/gamma@127\.0\.0\.1:\d+\/user\/member\)/)
  t.regex(r.stdout, /beta: Terminated\(helios\.tls:\/\/gamma@127\.0\.0\.1:\d+\/user\/member\)/)
  t.regex(r.stdout, /tls cluster: alpha and beta were told that gamma's member is gone\n$/)
  t.is(r.stderr, '')
})

test('pubsub: two subscriber processes read every publication of a topic in another process', async (t) => {
  const r = await run('pubsub.ts')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^publisher: 2 subscribers on helios\.tcp:\/\/publisher@127\.0\.0\.1:\d+\/user\/news\n/)
  for (const reader of ['reader1', 'reader2']) {
    // Each reader's lines in order (the two processes' lines may interleave).
    const lines = r.stdout.split('\n').filter((l) => l.startsWith(`${reader} `))
    t.deepEqual(lines, [
      `${reader} read #1: helios 0.1.0 is out`,
      `${reader} read #2: protocol version 3`,
      `${reader} read #3: examples run as they are`,
    ])
  }
  t.regex(r.stdout, /pubsub: both subscribers read every publication\n$/)
  t.is(r.stderr, '')
})

test('udp: the same topic actors over udp', async (t) => {
  const r = await run('udp.ts')
  t.is(r.code, 0, r.stderr)
  t.regex(
    r.stdout,
    /^subscriber resolved helios\.udp:\/\/publisher@127\.0\.0\.1:\d+\/user\/news\nsubscriber read #1: one datagram\nsubscriber read #2: two datagrams\nsubscriber read #3: three datagrams\nudp: the subscriber read every publication\n$/,
  )
  t.is(r.stderr, '')
})

test('embedded-channel: a handler tested without sockets', async (t) => {
  const r = await run('embedded-channel.ts')
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout.match(/^ok: /gm)?.length, 3)
  t.regex(r.stdout, /embedded channel: all checks passed\n$/)
  t.is(r.stderr, '')
})
