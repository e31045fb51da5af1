/**
 * The attacker processes of the hostile-input benchmark (hostile.bench.ts): each obeys commands
 * from the parent over IPC and runs one attack of tests/support/attacks.ts (and the slow-loris of
 * attackSlowloris.ts) against the victim, or stands for a host the victim dials (a tarpit that
 * never answers, a third party that counts what it gets). Messages follow faultNode.ts (`ready`,
 * `reply`), so that faultCluster.ts's NodeProc drives it. Exits when the parent goes away.
 *
 *   node --import tsx lib/hostileAttacker.ts '{}'
 */
import {
  fillCompression,
  fuzzNode,
  type IdentityAttack,
  ListenerSink,
  nodeTarget,
  parkFragments,
  type StrangerEnvelopes,
  strangerEnvelopes,
  Tarpit,
  UdpSink,
  udpFlood,
} from '../../tests/support/attacks.js'
import { type Slowloris, slowloris } from './attackSlowloris.js'
import { sendToParent, serveParent } from './childNode.js'

type Command =
  | { cmd: 'tarpit' }
  | { cmd: 'tcpSink' }
  | { cmd: 'udpSink' }
  | { cmd: 'sinkStats' }
  | { cmd: 'park'; target: string; options: Record<string, unknown> }
  | { cmd: 'compression'; target: string; options: Record<string, unknown> }
  | { cmd: 'leave'; notify: boolean }
  | {
      cmd: 'strangers'
      target: string
      count: number
      /** Sender paths name these host:port in turn (`Ghost<k>@host:port`). */
      hosts: string[]
      recipient: string
      localAddress?: string
      perDatagram?: number
    }
  | { cmd: 'flood'; target: string; frames: number; messageBytes: number }
  | { cmd: 'fuzz'; target: string; uid?: string; seconds: number; seed?: number; localAddress?: string }
  | { cmd: 'slowloris'; host: string; port: number; connections: number; localAddress?: string }
  | { cmd: 'slowlorisStop' }
  | { cmd: 'close' }

let tarpit: Tarpit | undefined
let tcpSink: ListenerSink | undefined
let udpSink: UdpSink | undefined
let identities: IdentityAttack | undefined
let strangers: StrangerEnvelopes | undefined
let loris: Slowloris | undefined

const summary = (a: IdentityAttack): Record<string, unknown> => ({
  identities: a.identities.length,
  established: a.established,
  bytesSent: a.bytesSent,
  framesSent: a.framesSent,
  closedByNode: a.closedByNode,
})

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'tarpit':
      tarpit = await Tarpit.start()
      return { host: tarpit.host, port: tarpit.port }
    case 'tcpSink':
      tcpSink = await ListenerSink.start()
      return { host: tcpSink.host, port: tcpSink.port }
    case 'udpSink':
      udpSink = await UdpSink.start()
      return { host: udpSink.host, port: udpSink.port }
    case 'sinkStats':
      return {
        tcp: tcpSink === undefined ? null : { connections: tcpSink.connections, bytes: tcpSink.bytes, open: tcpSink.open },
        udp: udpSink === undefined ? null : { datagrams: udpSink.datagrams, bytes: udpSink.bytes },
      }
    case 'park':
      identities = await parkFragments(nodeTarget(c.target), c.options)
      return summary(identities)
    case 'compression':
      identities = await fillCompression(nodeTarget(c.target), c.options)
      return summary(identities)
    case 'leave': {
      const s = identities === undefined ? null : summary(identities)
      await identities?.leave({ notify: c.notify })
      await strangers?.close()
      return s
    }
    case 'strangers': {
      const t = nodeTarget(c.target)
      const scheme = `helios.${t.transport}`
      strangers = await strangerEnvelopes(t, {
        count: c.count,
        sender: (k) => `${scheme}://Ghost${k}@${c.hosts[k % c.hosts.length]}/user/x`,
        recipient: c.recipient,
        ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}),
        ...(c.perDatagram !== undefined ? { perDatagram: c.perDatagram } : {}),
      })
      return { sent: strangers.sent, bytesSent: strangers.bytesSent }
    }
    case 'flood':
      return await udpFlood(nodeTarget(c.target), { frames: c.frames, messageBytes: c.messageBytes })
    case 'fuzz':
      return await fuzzNode(nodeTarget(c.target, c.uid === undefined ? undefined : BigInt(c.uid)), {
        seconds: c.seconds,
        ...(c.seed !== undefined ? { seed: c.seed } : {}),
        ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}),
      })
    case 'slowloris':
      loris = slowloris({
        host: c.host,
        port: c.port,
        connections: c.connections,
        ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}),
      })
      return true
    case 'slowlorisStop':
      return loris === undefined ? null : await loris.stop()
    case 'close':
      await loris?.stop()
      await identities?.leave({ notify: false })
      await strangers?.close()
      await tarpit?.close()
      await tcpSink?.close()
      await udpSink?.close()
      return true
  }
}

serveParent<Command>(handle)

sendToParent({ type: 'ready', address: '', uid: '', pid: process.pid, at: Date.now() })
