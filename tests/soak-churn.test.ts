/**
 * The short form of the churn soak (the long one is `pnpm bench:soak`): two actor systems over
 * tcp, actors created and stopped so that three times as many distinct actor paths cross the
 * association as its compression tables hold, asks all along, then a new long-lived actor: its
 * path is compressed again both ways, because the tables moved on to new generations (docs/PROTOCOL.md
 * §5). Behaviour only, no speed.
 */
import test from 'ava'
import { MAX_COMPRESSION_ENTRIES } from '@helios/codec'
import { type ActorRef, ActorSystem, type AssociationInfo, type CompressionStats, type RemoteOptions } from '@helios/actors'

const remote: RemoteOptions = { transport: 'tcp', host: '127.0.0.1', port: 0, heartbeatIntervalMs: 200 }

function association(system: ActorSystem, peer: ActorSystem): AssociationInfo {
  const found = system.associations().find((a) => a.remote.toString() === peer.address.toString() && a.state === 'established')
  if (found === undefined) throw new Error(`${system.address} has no established association with ${peer.address}`)
  return found
}

/** An actor that tells `echo` twice, stops once both replies are in, and resolves then. */
function shortLived(system: ActorSystem, echo: ActorRef, name: string): Promise<void> {
  return new Promise((resolve) => {
    let replies = 0
    system
      .actorOf((message, ctx) => {
        if (message === 'start') {
          echo.tell(1, ctx.self)
          echo.tell(2, ctx.self)
        } else if (++replies === 2) {
          ctx.stop()
          resolve()
        }
      }, name)
      .tell('start')
  })
}

/** Share of actor paths written as an index between two snapshots (NaN when none was written). */
function share(before: CompressionStats, after: CompressionStats): number {
  return (after.actorRefsCompressed - before.actorRefsCompressed) / (after.actorRefsWritten - before.actorRefsWritten)
}

test('churn: three times more actor paths than the tables hold cross the association, asks keep succeeding, and a new actor is compressed again both ways', async (t) => {
  const a = await ActorSystem.create('A', { remote })
  const b = await ActorSystem.create('B', { remote })
  t.teardown(async () => {
    await a.terminate()
    await b.terminate()
  })
  b.actorOf((message, ctx) => {
    ctx.sender?.tell(message, ctx.self)
  }, 'echo')
  const echo = await a.actorSelection(`${b.address}/user/echo`).resolveOne({ timeoutMs: 5_000 })

  // Churn: 3 x 4,096 actors, each sending twice (enough to be given an index) and then gone.
  const churned = 3 * MAX_COMPRESSION_ENTRIES
  const batch = 256
  let asked = 0
  for (let from = 0; from < churned; from += batch) {
    await Promise.all(Array.from({ length: batch }, (_, i) => shortLived(a, echo, `churn-${from + i}`)))
    if (from % (4 * batch) === 0) {
      t.is(await a.ask(echo, `ask-${from}`, { timeoutMs: 5_000 }), `ask-${from}`)
      asked++
    }
  }
  t.is(asked, churned / (4 * batch))
  const afterChurn = association(a, b).compression
  t.true(afterChurn.actorRefsWritten >= 2 * churned)

  // A new actor that stays: its path is one more than the tables of generation 0 could take.
  let pings = 0
  let running = true
  const pinger = a.actorOf((message, ctx) => {
    if (message === 'start') for (let i = 0; i < 20; i++) echo.tell(i, ctx.self)
    else if (running) {
      pings++
      echo.tell(message, ctx.self)
    }
  }, 'pinger')
  pinger.tell('start')
  t.teardown(() => {
    running = false
  })

  // Its path goes out compressed again, both ways, once the tables have moved on (the churned
  // paths unused for a window of 5 to 10 s): wait for a quarter-second window with 90% of the
  // paths written as indexes each way.
  let last = [association(a, b).compression, association(b, a).compression] as const
  let shares: [number, number] = [0, 0]
  const deadline = Date.now() + 40_000
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    const now = [association(a, b).compression, association(b, a).compression] as const
    shares = [share(last[0], now[0]), share(last[1], now[1])]
    last = now
    if (shares[0] >= 0.9 && shares[1] >= 0.9) break
  }
  t.true(pings > 1_000, `${pings} round trips`)
  t.true(shares[0] >= 0.9 && shares[1] >= 0.9, `compressed share A->B ${shares[0]}, B->A ${shares[1]}`)
  t.is(await a.ask(echo, 'still there', { timeoutMs: 5_000 }), 'still there')

  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const info = association(from, to)
    const c = info.compression
    t.true(c.outboundGeneration >= 1, `${from.address}: generation ${c.outboundGeneration}`)
    t.true(c.inboundGenerations <= 2)
    t.true(c.outboundActorRefs < MAX_COMPRESSION_ENTRIES)
    // two directions, at most two generations of 4,096 paths of ~60 characters each: far below 8 MB
    t.true(c.bytes < 3 * 2 ** 20, `${from.address}: ${c.bytes} bytes of compression tables`)
    t.is(info.decodeErrors, 0)
    t.is(info.dropped, 0)
  }
})
