/**
 * Peer sockets of an unconnected UDP channel (DatagramChannel.openPeerSocket): a peer given its own
 * connected socket on the channel's port has a receive buffer of its own, so a flood from another
 * peer that fills the shared socket's buffer does not drop its datagrams.
 */
import test, { type ExecutionContext } from 'ava'
import * as dgram from 'node:dgram'
import type { Datagram, DatagramChannel, DtlsDatagramChannel } from '../src/index.js'
import {
  BindError,
  Bootstrap,
  ChannelClosedError,
  DatagramChannel as DatagramChannelClass,
  SocketError,
  TransportError,
} from '../src/index.js'
import { DevCertificateAuthority } from '../src/testing.js'
import { HOST, until } from './helpers/net.js'

const codeOf = (e: unknown): string | undefined => (e as { code?: string } | undefined)?.code

interface Node {
  readonly channel: DatagramChannel
  readonly port: number
  /** Payloads received, as text, per sender port. */
  readonly received: Map<number, string[]>
  readonly errors: Error[]
}

/** A bound channel (small receive buffer: 64 KiB asked, what the kernel gives) that records what it reads and echoes `echo:` datagrams. */
async function node(t: ExecutionContext, maxPeerSockets: number, receiveBufferSize = 64 * 1024): Promise<Node> {
  const received = new Map<number, string[]>()
  const errors: Error[] = []
  const channel = (await new Bootstrap()
    .transport('udp')
    .options({ maxPeerSockets, receiveBufferSize })
    .handler((ch) => {
      ch.pipeline.addLast('record', {
        channelRead(ctx, msg) {
          const d = msg as Datagram
          const text = Buffer.from(d.data).toString()
          let list = received.get(d.remote.port)
          if (list === undefined) received.set(d.remote.port, (list = []))
          list.push(text)
          if (text.startsWith('echo:')) void ctx.channel.writeAndFlush({ data: Buffer.from(`re:${text.slice(5)}`), remote: d.remote })
        },
        exceptionCaught(_ctx, err) {
          errors.push(err)
        },
      })
    })
    .bind(0, HOST)) as DatagramChannel
  t.teardown(() => channel.close())
  return { channel, port: channel.localAddress?.port as number, received, errors }
}

/** A plain dgram socket on 127.0.0.1 that records what it receives. */
async function peer(t: ExecutionContext, port = 0): Promise<{ socket: dgram.Socket; port: number; got: string[]; fromPort: number[] }> {
  const socket = dgram.createSocket('udp4')
  const got: string[] = []
  const fromPort: number[] = []
  socket.on('message', (m, r) => {
    got.push(m.toString())
    fromPort.push(r.port)
  })
  await new Promise<void>((resolve) => socket.bind(port, HOST, resolve))
  t.teardown(() => {
    try {
      socket.close()
    } catch {
      /* closed by the test */
    }
  })
  return { socket, port: socket.address().port, got, fromPort }
}

/** True when a socket without SO_REUSEADDR can bind `port` on 127.0.0.1: no socket holds it. */
async function isFree(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4')
  const bound = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false))
    s.bind(port, HOST, () => resolve(true))
  })
  try {
    s.close()
  } catch {
    /* never bound */
  }
  return bound
}

/**
 * `flooder` sends `floodCount` datagrams of 1 KiB, then `victim` sends 20 small ones, all in one
 * turn of the event loop: the channel reads nothing in between, so whatever does not fit in the
 * receive buffer its datagrams land in is dropped by the kernel. Returns how many of the victim's arrived.
 */
async function floodThenSend(n: Node, flooder: dgram.Socket, victim: dgram.Socket, victimPort: number, floodCount = 600): Promise<number> {
  const body = Buffer.alloc(1024, 'f')
  let pending = floodCount + 20
  const done = new Promise<void>((resolve) => {
    const one = (): void => {
      if (--pending === 0) resolve()
    }
    for (let i = 0; i < floodCount; i++) flooder.send(body, n.port, HOST, one)
    for (let i = 0; i < 20; i++) victim.send(`v${i}`, n.port, HOST, one)
  })
  await done
  await new Promise((r) => setTimeout(r, 300))
  return (n.received.get(victimPort) ?? []).filter((s) => s.startsWith('v')).length
}

test('a flood that fills the shared receive buffer drops the datagrams of a peer without its own socket', async (t) => {
  // The control case of the next test: it shows the flood overflows the buffer at all.
  const n = await node(t, 4)
  const flooder = await peer(t)
  const victim = await peer(t)
  const arrived = await floodThenSend(n, flooder.socket, victim.socket, victim.port)
  t.true(arrived < 20, `${arrived} of 20 arrived`)
})

test('a peer with its own socket loses nothing to a flood from another peer', async (t) => {
  const n = await node(t, 4)
  const flooder = await peer(t)
  const victim = await peer(t)
  await n.channel.openPeerSocket({ address: HOST, port: victim.port })
  t.true(n.channel.hasPeerSocket({ address: HOST, port: victim.port }))
  t.is(n.channel.peerSocketCount, 1)
  const arrived = await floodThenSend(n, flooder.socket, victim.socket, victim.port)
  t.is(arrived, 20)
  // The flood itself overflowed (its buffer is as small as before).
  const flooded = n.received.get(flooder.port)?.length ?? 0
  t.true(flooded < 600, `${flooded} of 600 flood datagrams arrived`)
})

test("writes to a peer with its own socket leave from the channel's port, and replies come back; closing it changes neither", async (t) => {
  const n = await node(t, 4)
  const p = await peer(t)
  const remote = { address: HOST, port: p.port }
  await n.channel.openPeerSocket(remote)
  await n.channel.openPeerSocket(remote) // once is enough: the second resolves at once
  t.is(n.channel.peerSocketCount, 1)
  for (let i = 0; i < 10; i++) p.socket.send(`echo:${i}`, n.port, HOST)
  await until(() => p.got.length === 10)
  t.deepEqual(p.got.sort(), Array.from({ length: 10 }, (_, i) => `re:${i}`).sort())
  t.true(p.fromPort.every((port) => port === n.port))
  t.true(n.channel.closePeerSocket(remote))
  t.false(n.channel.closePeerSocket(remote))
  t.is(n.channel.peerSocketCount, 0)
  for (let i = 10; i < 20; i++) p.socket.send(`echo:${i}`, n.port, HOST)
  await until(() => p.got.length === 20)
  t.true(p.fromPort.every((port) => port === n.port))
})

test('a peer socket outlives its peer going away (ECONNREFUSED is reported, the channel stays open) and serves it again when it returns', async (t) => {
  const n = await node(t, 4)
  const p = await peer(t)
  const port = p.port
  await n.channel.openPeerSocket({ address: HOST, port })
  p.socket.close()
  // Nobody listens on the peer's port now: the kernel answers with ICMP unreachable, which the connected socket reports.
  await n.channel.writeAndFlush({ data: Buffer.from('into the void'), remote: { address: HOST, port } })
  await until(() => n.errors.length > 0)
  t.true(n.errors[0] instanceof SocketError)
  t.regex(n.errors[0]?.message ?? '', /ECONNREFUSED/)
  t.is((n.errors[0] as SocketError).remote, `${HOST}:${port}`, 'the error names the peer')
  t.is(n.channel.peerSocketErrors, 1)
  t.true(n.channel.isActive)
  const back = await peer(t, port)
  back.socket.send('echo:back', n.port, HOST)
  await until(() => back.got.length === 1)
  t.is(back.got[0], 're:back')
  t.is(n.channel.peerSocketCount, 1)
})

test('an ICMP error that the next send takes (not a read) is reported with the peer named, once', async (t) => {
  const n = await node(t, 4)
  const p = await peer(t)
  const remote = { address: HOST, port: p.port }
  await n.channel.openPeerSocket(remote)
  p.socket.close()
  // Two datagrams in one flush: the ICMP answer to the first is pending when the second is sent.
  n.channel.write({ data: Buffer.from('one'), remote })
  n.channel.write({ data: Buffer.from('two'), remote })
  n.channel.flush()
  await until(() => n.errors.length > 0)
  await new Promise((r) => setTimeout(r, 100))
  t.true(n.errors.every((e) => e instanceof SocketError && e.remote === `${HOST}:${p.port}` && e.syscallCode === 'ECONNREFUSED'))
  t.is(n.channel.peerSocketErrors, n.errors.length)
  t.true(n.channel.isActive)
})

test('openPeerSocket fails with a typed error when peer sockets are off, all taken, or the port cannot be shared', async (t) => {
  const off = await node(t, 0)
  const p = await peer(t)
  t.is(codeOf(await t.throwsAsync(off.channel.openPeerSocket({ address: HOST, port: p.port }))), 'ERR_PEER_SOCKETS_OFF')

  const one = await node(t, 1)
  const q = await peer(t)
  await one.channel.openPeerSocket({ address: HOST, port: p.port })
  const full = await t.throwsAsync(one.channel.openPeerSocket({ address: HOST, port: q.port }))
  t.true(full instanceof TransportError)
  t.is(codeOf(full), 'ERR_PEER_SOCKETS_FULL')

  // A socket bound without SO_REUSEADDR: its port cannot be shared.
  const plain = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => plain.bind(0, HOST, resolve))
  const ch = new DatagramChannelClass(plain, { maxPeerSockets: 2 })
  ch.start()
  t.teardown(() => ch.close())
  const bind = await t.throwsAsync(ch.openPeerSocket({ address: HOST, port: p.port }))
  t.true(bind instanceof BindError)
  t.is(ch.peerSocketCount, 0)
})

test('a channel whose socket is closed from outside closes its peer sockets too', async (t) => {
  const n = await node(t, 4)
  const p = await peer(t)
  await n.channel.openPeerSocket({ address: HOST, port: p.port })
  n.channel.socket.close()
  await n.channel.closed
  t.is(n.channel.peerSocketCount, 0)
  t.true(await isFree(n.port), 'nothing of the channel holds the port')
})

test('closing the channel closes its peer sockets; a socket closed while it opens fails its open', async (t) => {
  const n = await node(t, 4)
  const p = await peer(t)
  const q = await peer(t)
  await n.channel.openPeerSocket({ address: HOST, port: p.port })
  const opening = n.channel.openPeerSocket({ address: HOST, port: q.port })
  t.true(n.channel.closePeerSocket({ address: HOST, port: q.port }))
  t.true((await t.throwsAsync(opening)) instanceof ChannelClosedError)
  await n.channel.close()
  t.is(n.channel.peerSocketCount, 0)
  t.true((await t.throwsAsync(n.channel.openPeerSocket({ address: HOST, port: p.port }))) instanceof ChannelClosedError)
  t.true(await isFree(n.port), 'nothing of the channel holds the port')
})

async function dtlsPair(t: ExecutionContext, maxPeerSockets: number) {
  const authority = DevCertificateAuthority.create({ days: 2 })
  const cert = authority.issue({ days: 2 })
  const tls = { key: cert.key, cert: cert.cert, ca: authority.cert, requestCert: true }
  const got: string[] = []
  const bind = (peers: number): Promise<DtlsDatagramChannel> =>
    new Bootstrap()
      .transport('dtls')
      .options({ tls, maxPeerSockets: peers, receiveBufferSize: 64 * 1024 })
      .handler((ch) => {
        ch.pipeline.addLast('in', {
          channelRead: (_ctx, m) => {
            got.push(Buffer.from((m as Datagram).data).toString())
          },
          exceptionCaught: () => {},
        })
      })
      .bindDtls(0, HOST)
  const node = await bind(maxPeerSockets)
  const other = await bind(0)
  t.teardown(async () => {
    await node.close()
    await other.close()
  })
  return { node, other, got, at: { address: HOST, port: node.localAddress?.port as number } }
}

for (const withSocket of [true, false]) {
  test(`dtls: a flood of junk from another source ${withSocket ? 'costs a peer with its own socket no record' : 'drops the records of a peer that shares the socket'}`, async (t) => {
    const { node, other, got, at } = await dtlsPair(t, withSocket ? 4 : 0)
    await other.writeAndFlush({ data: Buffer.from('hello'), remote: at })
    await until(() => got.includes('hello') && node.isEstablished({ address: HOST, port: other.localAddress?.port as number }))
    const remote = { address: HOST, port: other.localAddress?.port as number }
    if (withSocket) {
      await node.openPeerSocket(remote)
      t.is(node.peerSocketCount, 1)
    } else {
      t.is(codeOf(await t.throwsAsync(node.openPeerSocket(remote))), 'ERR_PEER_SOCKETS_OFF')
    }
    const flooder = await peer(t)
    const junk = Buffer.alloc(1024, 'j')
    for (let i = 0; i < 600; i++) flooder.socket.send(junk, at.port, HOST)
    for (let i = 0; i < 20; i++) other.write({ data: Buffer.from(`r${i}`), remote: at })
    other.flush()
    await new Promise((r) => setTimeout(r, 400))
    const records = got.filter((s) => s.startsWith('r')).length
    if (withSocket) t.is(records, 20)
    else t.true(records < 20, `${records} of 20 records arrived`)
  })
}
