/**
 * A test node in its own process: starts an actor system from the JSON config in argv[2], creates
 * a few actors, reports 'ready' with its address over IPC, and obeys commands from the parent.
 * Used by the multi-process tests through `spawnNode` (./node.ts).
 */
import { ActorSystem, Terminated, type ActorRef } from '@helios/actors'
import { trustedTls, untrustedTls } from './certs.js'

interface Config {
  name: string
  transport: 'tcp' | 'tls' | 'udp' | 'dtls'
  port?: number
  advertisedPort?: number
  tls?: 'trusted' | 'untrusted'
  remote?: Record<string, unknown>
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config
const send = (m: unknown): void => {
  process.send?.(m)
}

const system = await ActorSystem.create(config.name, {
  remote: {
    transport: config.transport,
    host: '127.0.0.1',
    port: config.port ?? 0,
    ...(config.advertisedPort !== undefined ? { advertisedPort: config.advertisedPort } : {}),
    ...(config.tls === 'trusted' ? { tls: trustedTls() } : config.tls === 'untrusted' ? { tls: untrustedTls() } : {}),
    ...config.remote,
  },
})
for (const e of ['associated', 'disassociated', 'quarantined', 'unreachable', 'dropped', 'handshakeFailed'] as const) {
  system.events.on(e, (ev) => {
    const { reason, remote, byPeer, count } = ev as { reason?: string; remote?: unknown; byPeer?: boolean; count?: number }
    send({ type: 'event', name: e, reason, remote: String(remote), byPeer, count, at: Date.now() })
  })
}

system.actorOf((m, ctx) => {
  ctx.sender?.tell(m, ctx.self)
}, 'echo')

// sink: counts messages of {seq} per sender and checks their order
const sinkState = { count: 0, outOfOrder: 0, last: new Map<string, number>() }
system.actorOf((m, ctx) => {
  if (m === 'report') {
    ctx.sender?.tell({ count: sinkState.count, outOfOrder: sinkState.outOfOrder })
    return
  }
  const seq = (m as { seq: number }).seq
  const key = ctx.sender?.path.toString() ?? '-'
  const prev = sinkState.last.get(key) ?? 0
  if (seq !== prev + 1) sinkState.outOfOrder++
  sinkState.last.set(key, seq)
  sinkState.count++
}, 'sink')

// watcher: watches refs given by path, reports Terminated
const watcher = system.actorOf((m, ctx) => {
  if (m instanceof Terminated)
    send({ type: 'terminated', path: m.ref.path.toString(), addressTerminated: m.addressTerminated, at: Date.now() })
  else if (typeof m === 'object' && m !== null && 'watch' in m) ctx.watch((m as { watch: ActorRef }).watch)
}, 'watcher')

const created = new Map<string, ActorRef>()

process.on('message', (raw) => {
  const cmd = raw as { id: number; cmd: string; name?: string; path?: string; count?: number; size?: number; ms?: number }
  const reply = (result: unknown): void => send({ type: 'reply', id: cmd.id, result })
  void (async () => {
    switch (cmd.cmd) {
      case 'spawn': {
        const ref = system.actorOf((m, ctx) => {
          ctx.sender?.tell(m, ctx.self)
        }, cmd.name)
        created.set(cmd.name as string, ref)
        reply(ref.path.toSerializationFormat())
        return
      }
      case 'stop': {
        const ref = created.get(cmd.name as string)
        if (ref !== undefined) system.stop(ref)
        reply(ref !== undefined)
        return
      }
      case 'watch': {
        const ref = await system.actorSelection(cmd.path as string).resolveOne({ timeoutMs: 5000 })
        watcher.tell({ watch: ref })
        reply(ref.path.toSerializationFormat())
        return
      }
      case 'ask': {
        const ref = await system.actorSelection(cmd.path as string).resolveOne({ timeoutMs: 5000 })
        reply(await system.ask(ref, 'ping', { timeoutMs: 5000 }))
        return
      }
      case 'stream': {
        // One message of `size` bytes to `path` every 20 ms for `ms` (a load on this node's user lane).
        const ref = await system.actorSelection(cmd.path as string).resolveOne({ timeoutMs: 5000 })
        const big = new Uint8Array(cmd.size as number).fill(7)
        const until = Date.now() + (cmd.ms as number)
        let sent = 0
        while (Date.now() < until) {
          ref.tell(big)
          sent++
          await new Promise((r) => setTimeout(r, 20))
        }
        reply(sent)
        return
      }
      case 'memory':
        reply(process.memoryUsage().rss)
        return
      case 'terminate':
        await system.terminate()
        reply(true)
        process.exit(0)
    }
  })().catch((err: unknown) => send({ type: 'reply', id: cmd.id, error: String(err) }))
})

send({ type: 'ready', address: system.address.toString(), uid: system.nodeUid.toString() })
