/**
 * The attack variants of the hostile-input benchmark, one row each (see hostileRun.ts for what every
 * row measures around them). The attacks themselves are tests/support/attacks.ts's, run in the
 * attacker process (hostileAttacker.ts); a variant says what to run, how long to hold it, how the
 * attackers leave, and what else to measure.
 */
import { ATTACKS, type AttackName, type HostileOptions, type RowContext, type Variant } from './hostileRun.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
/** Generous IPC timeout for commands that run a whole attack. */
const LONG = 15 * 60_000
/** System names of the attack's identities start with this. */
const PREFIX = 'Spoof'

type SinkStats = { tcp: { connections: number; bytes: number; open: number } | null; udp: { datagrams: number; bytes: number } | null }

/** Whether the victim quarantined `remote` (or was told by it that it quarantined the victim). */
async function quarantinedBy(c: RowContext, remote: string): Promise<boolean> {
  const s = await c.victim.command<{ quarantinedRemotes: { remote: string }[] }>('stats', {}, 30_000)
  return s.quarantinedRemotes.some((q) => q.remote === remote)
}

/** The victim's associations with the attack's identities (system names starting with `prefix`), by state. */
async function victimAssociations(c: RowContext, prefix: string): Promise<Record<string, number>> {
  return (await c.victim.command<{ matching: Record<string, number> }>('stats', { prefix }, 30_000)).matching
}

function identities(o: HostileOptions): Variant[] {
  const park = (id: string, transport: 'tcp' | 'udp', lane: 'user' | 'control', quarantine: boolean, label: string): Variant => ({
    id,
    attack: 'identities',
    transport,
    label,
    async run(c) {
      c.attackerResults['park'] = await c.attacker.command(
        'park',
        {
          target: c.victim.address,
          options: { identities: o.identities, lane, establish: quarantine, localAddress: o.attackerAddress, prefix: PREFIX },
        },
        LONG,
      )
      await sleep(o.holdMs)
      const before = await victimAssociations(c, PREFIX)
      c.figures['establishedBeforeLeave'] = before['established'] ?? 0
      c.figures['handshakingBeforeLeave'] = before['handshaking'] ?? 0
      c.attackerResults['leave'] = await c.attacker.command('leave', { notify: quarantine }, LONG)
      if (quarantine) {
        await sleep(1000)
        c.figures['quarantinedAfterLeave'] = (await victimAssociations(c, PREFIX))['quarantined'] ?? 0
      }
    },
  })
  return [
    park('identities-tcp-user', 'tcp', 'user', false, `identities tcp user lane (${o.identities})`),
    park('identities-tcp-control', 'tcp', 'control', false, `identities tcp control lane (${o.identities})`),
    park('identities-udp', 'udp', 'control', false, `identities udp (${o.identities})`),
    park('identities-tcp-quarantined', 'tcp', 'control', true, `identities tcp control lane, then quarantined (${o.identities})`),
  ]
}

function compression(o: HostileOptions): Variant[] {
  return [
    {
      id: 'compression-tcp',
      attack: 'compression',
      transport: 'tcp',
      label: `compression tables, ${o.identities} identities then leaving`,
      async run(c) {
        c.attackerResults['compression'] = await c.attacker.command(
          'compression',
          {
            target: c.victim.address,
            options: { identities: o.identities, establish: true, localAddress: o.attackerAddress, prefix: PREFIX },
          },
          LONG,
        )
        await sleep(o.holdMs)
        const before = await victimAssociations(c, PREFIX)
        c.figures['establishedBeforeLeave'] = before['established'] ?? 0
        c.attackerResults['leave'] = await c.attacker.command('leave', { notify: true }, LONG)
        await sleep(1000)
        c.figures['quarantinedAfterLeave'] = (await victimAssociations(c, PREFIX))['quarantined'] ?? 0
      },
    },
  ]
}

function dial(o: HostileOptions): Variant[] {
  const tcp = (id: string, recipient: 'sink' | 'echo', label: string): Variant => ({
    id,
    attack: 'dial',
    transport: 'tcp',
    label,
    nofile: o.nofile,
    async run(c) {
      const tarpit = await c.attacker.command<{ host: string; port: number }>('tarpit', {}, 30_000)
      const third = await c.attacker.command<{ host: string; port: number }>('tcpSink', {}, 30_000)
      c.attackerResults['strangers'] = await c.attacker.command(
        'strangers',
        {
          target: c.victim.address,
          count: o.dialEnvelopes,
          hosts: [`${tarpit.host}:${tarpit.port}`, `${third.host}:${third.port}`],
          recipient: `${c.victim.address}/user/${recipient}`,
          localAddress: o.attackerAddress,
        },
        LONG,
      )
      await sleep(o.holdMs)
      c.attackerResults['leave'] = await c.attacker.command('leave', { notify: false }, LONG)
    },
    async after(c) {
      const sinks = await c.attacker.command<SinkStats>('sinkStats', {}, 30_000)
      c.figures['thirdPartyConnections'] = sinks.tcp?.connections ?? null
      c.figures['thirdPartyBytes'] = sinks.tcp?.bytes ?? null
    },
  })
  const udp = (id: string, recipient: 'sink' | 'echo', label: string): Variant => ({
    id,
    attack: 'dial',
    transport: 'udp',
    label,
    wholeAfter: true,
    async run(c) {
      const sink = await c.attacker.command<{ host: string; port: number }>('udpSink', {}, 30_000)
      const sent = await c.attacker.command<{ sent: number; bytesSent: number }>(
        'strangers',
        {
          target: c.victim.address,
          count: o.udpDialEnvelopes,
          hosts: [`${sink.host}:${sink.port}`],
          recipient: `${c.victim.address}/user/${recipient}`,
          localAddress: o.attackerAddress,
        },
        LONG,
      )
      c.attackerResults['strangers'] = sent
      c.figures['attackerBytes'] = sent.bytesSent
      await sleep(o.holdMs)
      c.attackerResults['leave'] = await c.attacker.command('leave', { notify: false }, LONG)
    },
    async after(c) {
      // everything the victim sent the third party, from the first envelope to the end of the after-window
      const sinks = await c.attacker.command<SinkStats>('sinkStats', {}, 30_000)
      const bytes = sinks.udp?.bytes ?? 0
      c.figures['thirdPartyDatagrams'] = sinks.udp?.datagrams ?? null
      c.figures['thirdPartyBytes'] = bytes
      const sent = c.figures['attackerBytes'] as number
      c.figures['amplification'] = sent > 0 ? Math.round((bytes / sent) * 1000) / 1000 : null
    },
  })
  return [
    tcp('dial-tcp', 'sink', `dial tcp: ${o.dialEnvelopes} strangers' sender paths, nofile ${o.nofile}`),
    tcp('dial-tcp-reply', 'echo', `dial tcp: ${o.dialEnvelopes} to echo (replies), nofile ${o.nofile}`),
    udp('dial-udp', 'sink', `dial udp: ${o.udpDialEnvelopes} strangers' sender paths (amplification)`),
    udp('dial-udp-reply', 'echo', `dial udp: ${o.udpDialEnvelopes} to echo (replies; amplification)`),
  ]
}

function slowloris(o: HostileOptions): Variant[] {
  const v = (transport: 'tcp' | 'tls'): Variant => ({
    id: `slowloris-${transport}`,
    attack: 'slowloris',
    transport,
    label: `slow-loris ${transport}: ${o.slowlorisConnections} connections re-opened`,
    probeDelayMs: 2000,
    probeTimeoutMs: 10_000,
    async run(c) {
      const port = Number(/:(\d+)$/.exec(c.victim.address)?.[1])
      await c.attacker.command(
        'slowloris',
        { host: '127.0.0.1', port, connections: o.slowlorisConnections, localAddress: o.attackerAddress },
        30_000,
      )
      await sleep(o.slowlorisMs)
      c.attackerResults['slowloris'] = await c.attacker.command('slowlorisStop', {}, 60_000)
    },
  })
  return o.tls !== undefined ? [v('tcp'), v('tls')] : [v('tcp')]
}

/** The victim's `outboundQueueBytes` (the default: the victim is started without remote options). */
const OUTBOUND_QUEUE_BYTES = 32 * 2 ** 20
/** How long the queue rows wait for the victim to quarantine the stopped receiver before killing it. */
const QUEUE_WAIT_MS = 20_000

/**
 * Three rows per message size. `queue-<size>`: fresh buffers pushed to a stopped receiver, as an
 * application would. `queue-<size>-reused`: one buffer pushed again and again, so that what stays
 * behind is the remoting's own (frames, queues, sockets). `queue-<size>-unsent` (run first): the
 * same fresh buffers allocated the same way but never sent, the queue's share held as long as the
 * queue row holds it: what the application's own buffers leave in the allocator, shown beside the
 * `queue-<size>` row (hostileReport.ts). Every row ends with a full collection (hostileRun.ts), which
 * tells the queue rows' messages still referenced from garbage not yet collected.
 */
function queue(o: HostileOptions): Variant[] {
  return o.queueMessageSizes.flatMap((size): Variant[] => {
    const name = size >= 2 ** 20 ? `${size / 2 ** 20}MiB` : `${size / 1024}KiB`
    const what = `${Math.round(o.queueBytes / 2 ** 20)} MiB in ${size >= 2 ** 20 ? `${size / 2 ** 20} MiB` : `${size / 1024} KiB`}`
    const pushed = (reuse: boolean): Variant => ({
      id: `queue-${name}${reuse ? '-reused' : ''}`,
      attack: 'queue',
      transport: 'tcp',
      label: `queue: ${what} ${reuse ? 'sends of one buffer' : 'messages'} to a stopped receiver`,
      async run(c) {
        const receiver = await c.spawn({ role: 'receiver', name: 'Receiver', transport: 'tcp' })
        await c.victim.command('prepare', { path: `${receiver.address}/user/sink` }, 30_000)
        receiver.signal('SIGSTOP')
        const started = performance.now()
        const push = await c.victim.command<{ sent: number; ms: number }>(
          'push',
          { totalBytes: o.queueBytes, messageBytes: size, reuse },
          LONG,
        )
        c.attackerResults['push'] = push
        // until the victim gives up on the stopped receiver (quarantine), at most QUEUE_WAIT_MS after the push
        const deadline = performance.now() + QUEUE_WAIT_MS
        let quarantined = false
        while (performance.now() < deadline) {
          if (await quarantinedBy(c, receiver.address)) {
            quarantined = true
            break
          }
          await sleep(500)
        }
        c.figures['quarantinedAfterMs'] = quarantined ? Math.round(performance.now() - started) : null
        const s = await c.victim.command<{ drops: Record<string, number> }>('stats', {}, 30_000)
        c.figures['dropped'] = Object.values(s.drops).reduce((a, b) => a + b, 0)
        c.figures['droppedQueueFull'] = s.drops['queue-full'] ?? 0
        receiver.signal('SIGKILL')
      },
    })
    const unsent: Variant = {
      id: `queue-${name}-unsent`,
      attack: 'queue',
      transport: 'tcp',
      label: `queue baseline: the same ${what} messages allocated, not sent`,
      async run(c) {
        const hold = Math.floor(OUTBOUND_QUEUE_BYTES / size)
        const push = await c.victim.command<{ sent: number; ms: number }>(
          'push',
          { totalBytes: o.queueBytes, messageBytes: size, send: false, hold },
          LONG,
        )
        c.attackerResults['push'] = push
        c.figures['held'] = hold
        c.figures['heldMs'] = QUEUE_WAIT_MS
        await sleep(QUEUE_WAIT_MS)
        await c.victim.command('release', {}, 30_000)
      },
    }
    return [unsent, pushed(false), pushed(true)]
  })
}

function udpflood(o: HostileOptions): Variant[] {
  return [
    {
      id: 'udpflood',
      attack: 'udpflood',
      transport: 'udp',
      label: `udp flood: ${o.floodFrames} frames from one associated peer`,
      async run(c) {
        c.attackerResults['flood'] = await c.attacker.command(
          'flood',
          { target: c.victim.address, frames: o.floodFrames, messageBytes: 1024 },
          LONG,
        )
        await sleep(o.holdMs)
        c.figures['delivered'] = (await c.victim.command<{ sinkCount: number }>('stats', {}, 30_000)).sinkCount
      },
    },
  ]
}

function fuzz(o: HostileOptions): Variant[] {
  const v = (transport: 'tcp' | 'udp'): Variant => ({
    id: `fuzz-${transport}`,
    attack: 'fuzz',
    transport,
    label: `fuzz ${transport}: mutated frames of every kind for ${o.fuzzSeconds} s`,
    async run(c) {
      c.attackerResults['fuzz'] = await c.attacker.command(
        'fuzz',
        {
          target: c.victim.address,
          uid: c.victim.uid,
          seconds: o.fuzzSeconds,
          localAddress: o.attackerAddress,
          ...(o.fuzzSeed !== undefined ? { seed: o.fuzzSeed } : {}),
        },
        LONG,
      )
    },
  })
  return [v('tcp'), v('udp')]
}

/** Every variant of the selected attacks, in the order of the issue. */
export function variantsOf(o: HostileOptions): Variant[] {
  const make: Record<AttackName, (o: HostileOptions) => Variant[]> = { identities, compression, dial, slowloris, queue, udpflood, fuzz }
  const out: Variant[] = []
  for (const a of o.attacks) out.push(...make[a](o))
  return o.variants.length === 0 ? out : out.filter((v) => o.variants.includes(v.id))
}

/** Every variant id (for --help and checks). */
export function allVariantIds(o: HostileOptions): string[] {
  const every = { ...o, attacks: [...ATTACKS], variants: [], tls: o.tls ?? { key: '', cert: '', ca: '' } }
  return variantsOf(every).map((v) => v.id)
}
