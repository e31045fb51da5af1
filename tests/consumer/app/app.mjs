// A plain Node program (no loader, no TypeScript) using the installed packages: for each transport,
// two actor systems, an actor resolved by path on the other, and an ask with a registered class.
import { ActorSystem } from '@helios/actors'
import { MessageRegistry } from '@helios/codec'
import { devCertificates } from '@helios/transport/testing'

class Greet {
  constructor(who, at, tags) {
    this.who = who
    this.at = at
    this.tags = tags
  }
}

// TLS material made in-process by the installed helper: no openssl involved.
const tls = { ...devCertificates(), requestCert: true }
let failed = false

for (const transport of ['tcp', 'tls', 'udp']) {
  const remote = () => ({
    transport,
    host: '127.0.0.1',
    port: 0,
    registry: new MessageRegistry().register(Greet, 'app.Greet'),
    ...(transport === 'tls' ? { tls } : {}),
  })
  const a = await ActorSystem.create('A', { remote: remote() })
  const b = await ActorSystem.create('B', { remote: remote() })
  try {
    b.actorOf((m, ctx) => {
      const ok = m instanceof Greet && m.at instanceof Date && m.tags instanceof Set
      ctx.sender?.tell(ok ? `hello ${m.who}, ${m.tags.size} tags, ${m.at.toISOString()}` : `unexpected ${String(m)}`, ctx.self)
    }, 'echo')
    const started = performance.now()
    const ref = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5000 })
    const reply = await a.ask(ref, new Greet(transport, new Date(0), new Set(['x', 'y'])), { timeoutMs: 5000 })
    const ms = (performance.now() - started).toFixed(1)
    const expected = `hello ${transport}, 2 tags, 1970-01-01T00:00:00.000Z`
    if (reply !== expected) failed = true
    console.log(
      `${transport}: ${a.address} resolved ${ref.path} and asked it: ${JSON.stringify(reply)} in ${ms} ms${reply === expected ? '' : ' (WRONG)'}`,
    )
  } finally {
    await a.terminate()
    await b.terminate()
  }
}
process.exitCode = failed ? 1 : 0
