import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MessageRegistry } from '@helios/codec'
import { ActorNotFound, ActorSystem, AskTimeoutError, type DroppedEvent } from '@helios/actors'
import { trustedTls, untrustedTls } from './support/certs.js'
import { freePort } from './support/faultProxy.js'
import { CapturedLog } from './support/logger.js'
import { spawnNode } from './support/node.js'
import { watchFrom } from './support/watch.js'

// What a user sees without a listener: each kind of trouble, once, in the system's logger.

const HOST = '127.0.0.1'
const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

async function node(
  t: import('ava').ExecutionContext,
  name: string,
  log: CapturedLog,
  remote: Record<string, unknown> = {},
): Promise<ActorSystem> {
  const system = await ActorSystem.create(name, {
    logger: log.options('warn', 300),
    remote: { transport: 'tcp', host: HOST, port: 0, ...remote },
  })
  t.teardown(() => system.terminate())
  return system
}

test('a peer that refuses connections is logged once with its address and errno; resolveOne and ask say why they failed', async (t) => {
  const log = new CapturedLog()
  const a = await ActorSystem.create('A', {
    logger: log.options('warn'),
    remote: { transport: 'tcp', host: HOST, port: 0, reconnectMinBackoffMs: 20, reconnectMaxBackoffMs: 50 },
  })
  const port = await freePort()
  const path = `helios.tcp://B@${HOST}:${port}/user/echo`
  const err = await t.throwsAsync(a.actorSelection(path).resolveOne({ timeoutMs: 600 }), { instanceOf: ActorNotFound })
  t.is(err?.message, `no actor found at ${path} (connection refused at ${HOST}:${port})`)
  t.is(err?.reason, `connection refused at ${HOST}:${port}`)
  const askErr = await t.throwsAsync(a.ask(a.resolveActorRef(path), 'hello?', { timeoutMs: 300 }), { instanceOf: AskTimeoutError })
  t.regex(
    askErr?.message ?? '',
    new RegExp(`^ask to ${re(path)} timed out after 300 ms \\(connection refused at ${re(`${HOST}:${port}`)}\\)$`),
  )
  const lines = log.matching(/cannot connect/)
  t.is(lines.length, 1, 'many attempts, one line')
  t.regex(
    lines[0] ?? '',
    new RegExp(
      `^\\[helios\\.tcp://A@127\\.0\\.0\\.1:\\d+\\] cannot connect to ${re(`helios.tcp://B@${HOST}:${port}`)}: connection refused at ${re(`${HOST}:${port}`)} \\(ECONNREFUSED\\); retrying`,
    ),
  )
  await a.terminate()
  // The attempts counted meanwhile are written at terminate (the interval had not ended).
  t.regex(
    log.matching(/more failed connection attempts/)[0] ?? '',
    new RegExp(
      `\\d+ more failed connection attempts to ${re(`helios.tcp://B@${HOST}:${port}`)} \\(ECONNREFUSED\\) \\(in the last \\d+ s\\)$`,
    ),
  )
})

class Unregistered {
  constructor(readonly n = 1) {}
}
class KnownToA {
  constructor(readonly n = 1) {}
}

test('messages dropped because their class is not registered (either side) or they are too large are logged, saying which', async (t) => {
  const logA = new CapturedLog()
  const logB = new CapturedLog()
  const b = await node(t, 'B', logB)
  const a = await node(t, 'A', logA, { registry: new MessageRegistry().register(KnownToA, 'test.KnownToA'), maxMessageSize: 4096 })
  b.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address.toString()}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const kinds: DroppedEvent['kind'][] = []
  a.events.on('dropped', (d) => kinds.push(d.kind))
  echo.tell(new Unregistered())
  echo.tell('x'.repeat(10_000))
  echo.tell(new KnownToA())
  const target = re(`${b.address.toString()}/user/echo`)
  t.regex(
    (await logA.waitFor(/unregistered class/)).message,
    new RegExp(
      `dropped a message to ${target}.*: cannot encode: instance of unregistered class Unregistered; register it in the MessageRegistry$`,
    ),
  )
  t.regex(
    (await logA.waitFor(/exceeds maxMessageSize/)).message,
    new RegExp(`dropped a message to ${target}.*: cannot encode: message of \\d+ bytes exceeds maxMessageSize 4096$`),
  )
  t.regex(
    (await logB.waitFor(/test\.KnownToA/)).message,
    /^\[helios\.tcp:\/\/B@[^\]]+\] dropped a message to .*\/user\/echo.*: decode failed: no message class registered for manifest "test\.KnownToA"$/,
  )
  t.deepEqual(kinds, ['not-serializable', 'too-large'])
  t.is(await a.ask(echo, 'still fine', { timeoutMs: 5000 }), 'still fine')
})

test('a flood of 1,000 drops writes one line, then one line with the count per interval', async (t) => {
  const log = new CapturedLog()
  const port = await freePort()
  const a = await node(t, 'A', log, { outboundQueueSize: 1, reconnectMinBackoffMs: 1000, reconnectMaxBackoffMs: 1000 })
  const ref = a.resolveActorRef(`helios.tcp://B@${HOST}:${port}/user/sink`)
  let dropped = 0
  a.events.on('dropped', () => {
    dropped++
  })
  for (let i = 0; i <= 1000; i++) ref.tell(i) // the first waits in the queue of 1, the others are dropped
  t.is(dropped, 1000)
  const count = await log.waitFor(/more messages/, 5000)
  t.regex(
    count.message,
    new RegExp(`\\] 999 more messages to ${re(`helios.tcp://B@${HOST}:${port}`)} dropped: outbound queue full \\(in the last \\d+ s\\)$`),
  )
  const lines = log.matching(/outbound queue full/)
  t.is(lines.length, 2, lines.join('\n'))
  t.regex(lines[0] ?? '', /dropped a message to .*\/user\/sink: outbound queue full \(outboundQueueSize 1\)$/)
})

test('a handshake refused for a wrong system name is logged on both sides, saying which, and resolveOne tells it', async (t) => {
  const logA = new CapturedLog()
  const logB = new CapturedLog()
  const b = await node(t, 'B', logB)
  const a = await node(t, 'A', logA, { reconnectMinBackoffMs: 50, reconnectMaxBackoffMs: 100 })
  const wrong = `helios.tcp://Wrong@${HOST}:${b.address.port}`
  const err = await t.throwsAsync(a.actorSelection(`${wrong}/user/echo`).resolveOne({ timeoutMs: 1000 }), { instanceOf: ActorNotFound })
  const meant = `handshake meant for ${wrong}, this node is ${b.address.toString()}`
  t.is(err?.reason, `${wrong} refused the connection: ${meant}`)
  t.regex(
    (await logB.waitFor(/refused a connection/)).message,
    new RegExp(`refused a connection from ${re(a.address.toString())}: ${re(meant)}$`),
  )
  t.regex(
    (await logA.waitFor(/handshake with/)).message,
    new RegExp(`handshake with ${re(wrong)} failed: refused by ${re(wrong)}: ${re(meant)}$`),
  )
  t.is(logB.matching(/refused a connection/).length, 1, 'the retries are counted, not written')
})

test('TLS handshakes refused for an untrusted certificate are logged on both sides, saying why', async (t) => {
  const logGood = new CapturedLog()
  const logEvil = new CapturedLog()
  const good = await node(t, 'Good', logGood, { transport: 'tls', tls: trustedTls(), reconnectMaxBackoffMs: 200 })
  const evil = await node(t, 'Evil', logEvil, { transport: 'tls', tls: untrustedTls(), reconnectMaxBackoffMs: 200 })
  good.actorOf(() => {}, 'echo')
  evil.actorOf(() => {}, 'echo')
  // Evil connects: Good (the server) refuses its client certificate and says so; over TLS 1.3
  // Evil only sees the server close the connection instead of confirming the handshake.
  const err = await t.throwsAsync(evil.actorSelection(`${good.address.toString()}/user/echo`).resolveOne({ timeoutMs: 1500 }), {
    instanceOf: ActorNotFound,
  })
  t.regex(err?.message ?? '', /\(TLS handshake with 127\.0\.0\.1:\d+ failed: .+\)$/)
  t.regex(
    (await logGood.waitFor(/refused a connection/)).message,
    /refused a connection from 127\.0\.0\.1:\d+: TLS handshake with 127\.0\.0\.1:\d+ failed: client certificate refused \([A-Z_]+\)$/,
  )
  t.regex(
    (await logEvil.waitFor(/TLS handshake/)).message,
    new RegExp(`handshake with ${re(good.address.toString())} failed: TLS handshake with 127\\.0\\.0\\.1:\\d+ failed: .*certificate`),
  )
  // Good connects: it refuses Evil's server certificate itself, and says why.
  await t.throwsAsync(good.actorSelection(`${evil.address.toString()}/user/echo`).resolveOne({ timeoutMs: 1500 }), {
    instanceOf: ActorNotFound,
  })
  t.regex(
    (await logGood.waitFor(/\] handshake with/)).message,
    new RegExp(`handshake with ${re(evil.address.toString())} failed: TLS handshake with 127\\.0\\.0\\.1:\\d+ failed: .*certificate`, 'i'),
  )
})

test('a node that dies is logged as quarantined (down) with its address', async (t) => {
  const log = new CapturedLog()
  const a = await node(t, 'A', log)
  const b = await spawnNode({ name: 'B', transport: 'tcp' })
  t.teardown(() => b.kill('SIGKILL'))
  const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
  const watch = watchFrom(a, echo)
  await watch.ready
  await a.ask(echo, 'ping', { timeoutMs: 5000 })
  await b.kill('SIGKILL')
  await watch.terminated
  const line = await log.waitFor(/quarantined: /)
  t.is(line.level, 'warn')
  t.regex(
    line.message,
    new RegExp(
      `quarantined: ${re(b.address)} uid \\d+: down: 127\\.0\\.0\\.1:\\d+ refused the connection after the connection to it was lost; watchers of its actors got Terminated$`,
    ),
  )
})

// ------------------------------------------------------------------ the default logger, in a child process

const child = fileURLToPath(new URL('./support/log-child.ts', import.meta.url))

function runChild(mode: 'default' | 'silent'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env }
  delete env['HELIOS_LOG_LEVEL'] // the test suite runs quiet; this child runs as a user would
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, mode], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error('log child did not finish in 30 s'))
    }, 30_000)
    p.once('error', reject)
    p.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

test('by default, with no listener and no NODE_DEBUG, trouble is written to stderr one line per kind, then a count', async (t) => {
  const { code, stdout, stderr } = await runChild('default')
  t.is(code, 0, stderr)
  t.regex(
    stdout,
    /^ActorNotFound: no actor found at helios\.tcp:\/\/B@127\.0\.0\.1:\d+\/user\/echo \(connection refused at 127\.0\.0\.1:\d+\)\n$/,
  )
  const lines = stderr.trimEnd().split('\n')
  t.is(lines.length, 2, stderr)
  t.regex(
    lines[0] ?? '',
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}\[helios\.tcp:\/\/A@127\.0\.0\.1:\d+\] cannot connect to helios\.tcp:\/\/B@127\.0\.0\.1:\d+: connection refused at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); retrying with backoff while messages or watches wait$/,
  )
  t.regex(
    lines[1] ?? '',
    /^\S+ WARN {2}\[helios\.tcp:\/\/A@127\.0\.0\.1:\d+\] \d+ more failed connection attempts to helios\.tcp:\/\/B@127\.0\.0\.1:\d+ \(ECONNREFUSED\) \(in the last \d+ s\)$/,
  )
})

test("logger: 'silent' writes nothing", async (t) => {
  const { code, stdout, stderr } = await runChild('silent')
  t.is(code, 0, stderr)
  t.regex(stdout, /^ActorNotFound: no actor found at .* \(connection refused at 127\.0\.0\.1:\d+\)\n$/)
  t.is(stderr, '')
})
