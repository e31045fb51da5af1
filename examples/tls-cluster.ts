/**
 * Three actor systems over mutual TLS, each watching the others' "member" actor. One node stops;
 * the other two get `Terminated` for its member. The certificates (a throwaway CA and one node
 * certificate it signed) are made in-process by @helios/transport/testing: no openssl, and
 * verification stays on (each node checks the other's certificate against the CA).
 *
 * The three systems share this process to keep the example short; in a real cluster each lives
 * in its own process or host, and nothing below changes but the addresses.
 *
 *   npx tsx examples/tls-cluster.ts
 */
import { ActorSystem, Terminated, type ActorRef } from '@helios/actors'
import { devCertificates } from '@helios/transport/testing'

const { ca, cert, key } = devCertificates({ days: 1 })
const tls = { ca, cert, key } // between nodes, client certificates are required and verified

const [alpha, beta, gamma] = (await Promise.all(
  ['alpha', 'beta', 'gamma'].map((name) => ActorSystem.create(name, { remote: { transport: 'tls', host: '127.0.0.1', port: 0, tls } })),
)) as [ActorSystem, ActorSystem, ActorSystem]
const nodes = [alpha, beta, gamma]

/** A member watches the members it is told about, and reports each Terminated it gets. */
function member(node: ActorSystem, onTerminated: (t: Terminated) => void): ActorRef {
  return node.actorOf((message, ctx) => {
    if (message instanceof Terminated) onTerminated(message)
    else ctx.watch((message as { watch: ActorRef }).watch)
  }, 'member')
}

const gammaGone = [alpha, beta].map(
  (node) =>
    new Promise<void>((resolve) => {
      member(node, (t) => {
        console.log(`${node.name}: Terminated(${t.ref.path.toString()})`)
        if (t.ref.path.address.equals(gamma.address)) resolve()
      })
    }),
)
member(gamma, (t) => console.log(`gamma: Terminated(${t.ref.path.toString()})`))

// Every member watches every other one; the refs come from resolving their paths over TLS.
for (const node of nodes) {
  const self = await node.actorSelection('/user/member').resolveOne()
  for (const other of nodes) {
    if (other !== node)
      self.tell({ watch: await node.actorSelection(`${other.address.toString()}/user/member`).resolveOne({ timeoutMs: 5000 }) })
  }
}
console.log(`cluster up: ${nodes.map((n) => n.address.toString()).join(', ')}`)

// gamma leaves: its actors stop first (their watchers are told), then it says goodbye to its peers.
await gamma.terminate()
console.log('gamma terminated')
await Promise.all(gammaGone)
await alpha.terminate()
await beta.terminate()
console.log("tls cluster: alpha and beta were told that gamma's member is gone")
