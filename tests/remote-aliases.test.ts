import test from 'ava'
import type { ExecutionContext } from 'ava'
import { lookup } from 'node:dns/promises'
import { once } from 'node:events'
import { connect } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { ActorNotFound, ActorSystem, AskTimeoutError, type DeadLetter, type HandshakeFailedEvent } from '@helios/actors'
import { encodePreamble, Lane } from '@helios/codec'
import { framed, handshakeRequest } from './support/attacks.js'
import { CapturedLog } from './support/logger.js'

// A node's own address under another name (docs/SECURITY.md, "Every connection"): forms of the
// same IP are the same address (delivered here), other names of its endpoint are refused and never
// dialled (Artery refuses an association with its own address too).

async function node(t: ExecutionContext, host: string, log: CapturedLog, advertisedHost?: string): Promise<ActorSystem> {
  const a = await ActorSystem.create('A', {
    logger: log.options('warn'),
    remote: { transport: 'tcp', host, port: 0, ...(advertisedHost !== undefined ? { advertisedHost } : {}) },
  })
  t.teardown(() => a.terminate())
  a.actorOf((m, ctx) => {
    ctx.sender?.tell(m, ctx.self)
  }, 'echo')
  return a
}

/** Every handshake attempt and dead letter of `a` from now on. */
function watch(a: ActorSystem): { refusals: HandshakeFailedEvent[]; deadLetters: DeadLetter[] } {
  const refusals: HandshakeFailedEvent[] = []
  const deadLetters: DeadLetter[] = []
  a.events.on('handshakeFailed', (e) => refusals.push(e))
  a.events.on('deadLetter', (d) => deadLetters.push(d))
  return { refusals, deadLetters }
}

/** Sending to `alias` is refused at once, without a connection: resolveOne and ask say why, a tell is a dead letter. */
async function refused(t: ExecutionContext, a: ActorSystem, log: CapturedLog, alias: string): Promise<void> {
  const seen = watch(a)
  const path = `${alias}/user/echo`
  const started = performance.now()
  const err = await t.throwsAsync(a.actorSelection(path).resolveOne({ timeoutMs: 5000 }), { instanceOf: ActorNotFound })
  t.true(performance.now() - started < 1000, 'refused at once, not after the timeout')
  const canonical = err?.path.replace(/\/user\/echo$/, '') ?? ''
  t.is(err?.reason, `${canonical} is another name of this node's own endpoint (this node is ${a.address.toString()}): not dialled`, alias)
  const askErr = await t.throwsAsync(a.ask(a.resolveActorRef(path), 'hi', { timeoutMs: 200 }), { instanceOf: AskTimeoutError })
  t.regex(askErr?.message ?? '', /another name of this node's own endpoint/)
  a.resolveActorRef(path).tell('lost')
  t.true(seen.deadLetters.some((d) => d.message === 'lost'))
  t.regex(
    (await log.waitFor(/HELIOS_SELF_ADDRESS/)).message,
    /another name of this node's own endpoint .*; messages to it go to dead letters$/,
  )
  await new Promise((r) => setTimeout(r, 200))
  t.deepEqual(seen.refusals, [], 'no connection to itself')
  t.deepEqual(a.associations(), [])
}

test('forms of the node own IP address are its address: messages are delivered here', async (t) => {
  const log = new CapturedLog()
  const a = await node(t, '127.0.0.1', log)
  const port = a.address.port as number
  for (const host of ['127.1', '127.000.000.001', '[::ffff:127.0.0.1]', '2130706433']) {
    const path = `helios.tcp://A@${host}:${port}/user/echo`
    const echo = await a.actorSelection(path).resolveOne({ timeoutMs: 2000 })
    t.is(echo.path.toString(), `${a.address.toString()}/user/echo`, host)
    t.is(await a.ask(a.resolveActorRef(path), host, { timeoutMs: 2000 }), host)
  }
  t.deepEqual(a.associations(), [])
})

test('localhost, the host name and another system name at the node own port are refused, never dialled', async (t) => {
  const log = new CapturedLog()
  const a = await node(t, '127.0.0.1', log)
  const port = a.address.port as number
  await refused(t, a, log, `helios.tcp://A@localhost:${port}`)
  await refused(t, a, log, `helios.tcp://B@127.0.0.1:${port}`)
  const name = hostname()
  const resolved = await lookup(name, { all: true }).catch(() => [])
  if (resolved.some((r) => r.address === '127.0.0.1')) await refused(t, a, log, `helios.tcp://A@${name.toUpperCase()}:${port}`)
  else t.log(`host name ${name} does not resolve to 127.0.0.1 here: not checked`)
})

test('bound to all interfaces: 0.0.0.0, any loopback address and the addresses of the interfaces are the node itself', async (t) => {
  const log = new CapturedLog()
  const a = await node(t, '0.0.0.0', log, '127.0.0.1')
  const port = a.address.port as number
  const mine = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === 'IPv4' && !i.internal)
    .map((i) => i?.address as string)
  for (const host of ['0.0.0.0', '127.0.0.2', 'localhost', ...mine]) await refused(t, a, log, `helios.tcp://A@${host}:${port}`)
  // Another port of these hosts is another node: dialled.
  const other = `helios.tcp://B@127.0.0.2:${port === 65535 ? 1 : port + 1}`
  a.resolveActorRef(`${other}/user/echo`).tell('x')
  t.true(a.associations().some((i) => i.remote.toString() === other))
})

test("a stranger's handshake claiming another name of the node's own endpoint is refused: no association, nothing dialled", async (t) => {
  const log = new CapturedLog()
  const a = await node(t, '127.0.0.1', log)
  const seen = watch(a)
  const port = a.address.port as number
  for (const claimed of [`helios.tcp://Other@127.0.0.1:${port}`, `helios.tcp://A@localhost:${port}`]) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    const back: Buffer[] = []
    socket.on('data', (d: Buffer) => back.push(d))
    socket.write(Buffer.concat([Buffer.from(encodePreamble(Lane.control)), framed(handshakeRequest(claimed, 7n, a.address.toString()))]))
    await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 3000))])
    t.true(socket.destroyed || socket.readableEnded, `${claimed}: the connection was closed`)
    socket.destroy()
  }
  await new Promise((r) => setTimeout(r, 200))
  t.deepEqual(a.associations(), [], 'no association, so nothing dialled')
  // one event for both: the second is the same kind of refusal, counted in the next interval's event
  t.true(seen.refusals.length >= 1)
  for (const r of seen.refusals) t.regex(r.reason, /another name of this node's own endpoint/)
})
