/**
 * Side B of every case (the "server" node): raw echo and sink servers, and the B actor system
 * with its echo and sink actors. The same handler serves a child process (over IPC, see
 * worker.ts) and the `--in-process` mode (called directly).
 */
import type { TlsMaterial } from './certs.js'
import { type DtlsServer, startDtlsEchoServer } from './dtls.js'
import { createEchoActors, createSinkActor } from './helios.js'
import { createRemoteSystem, type HeliosSystem, loadHelios } from './heliosApi.js'
import { memoryReport } from './machine.js'
import { type RawServer, type RawServerMode, startRawServer } from './raw.js'
import type { Transport } from './workloads.js'

export type SideBCommand =
  | { op: 'raw-listen'; transport: Transport; mode: RawServerMode; ackEvery: number; tls?: TlsMaterial }
  | { op: 'raw-close'; port: number }
  | { op: 'helios-start'; transport: Transport; tls?: TlsMaterial }
  | { op: 'helios-echo'; transport: Transport; prefix: string; count: number }
  | { op: 'helios-sink'; transport: Transport; name: string; ackEvery: number }
  | { op: 'helios-stop'; transport: Transport }
  | { op: 'dtls-listen'; tls: TlsMaterial }
  | { op: 'dtls-sessions'; port: number }
  | { op: 'dtls-close'; port: number }
  | { op: 'memory' }
  | { op: 'shutdown' }

/** The B side's state: its open servers and actor systems. */
export class SideB {
  private readonly raw = new Map<number, RawServer>()
  private readonly systems = new Map<Transport, HeliosSystem>()
  private readonly dtls = new Map<number, DtlsServer>()

  async handle(cmd: SideBCommand): Promise<unknown> {
    switch (cmd.op) {
      case 'raw-listen': {
        const opts = { transport: cmd.transport, mode: cmd.mode, ackEvery: cmd.ackEvery }
        const server = await startRawServer(cmd.tls ? { ...opts, tls: cmd.tls } : opts)
        this.raw.set(server.port, server)
        return { port: server.port }
      }
      case 'raw-close': {
        const server = this.raw.get(cmd.port)
        this.raw.delete(cmd.port)
        await server?.close()
        return {}
      }
      case 'helios-start': {
        const loaded = await loadHelios()
        if (!loaded.ok) throw new Error(loaded.reason)
        const system = await createRemoteSystem(loaded.ActorSystem, 'B', cmd.transport, cmd.tls)
        this.systems.set(cmd.transport, system)
        return { address: system.address.toString() }
      }
      case 'helios-echo':
        return { paths: createEchoActors(this.system(cmd.transport), cmd.prefix, cmd.count) }
      case 'helios-sink':
        return { path: createSinkActor(this.system(cmd.transport), cmd.name, cmd.ackEvery) }
      case 'helios-stop': {
        const system = this.systems.get(cmd.transport)
        this.systems.delete(cmd.transport)
        await system?.terminate()
        return {}
      }
      case 'dtls-listen': {
        const server = await startDtlsEchoServer(cmd.tls)
        this.dtls.set(server.port, server)
        return { port: server.port }
      }
      case 'dtls-sessions': {
        // The RSS after a collection: what the sessions hold, not garbage waiting.
        ;(globalThis as { gc?: () => void }).gc?.()
        const m = process.memoryUsage()
        return { sessions: this.dtls.get(cmd.port)?.sessions() ?? 0, rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 }
      }
      case 'dtls-close': {
        const server = this.dtls.get(cmd.port)
        this.dtls.delete(cmd.port)
        await server?.close()
        return {}
      }
      case 'memory':
        return memoryReport()
      case 'shutdown':
        await this.shutdown()
        return {}
    }
  }

  /** Closes every server and terminates every system (bounded: a hung terminate is abandoned). */
  async shutdown(): Promise<void> {
    const closing: Promise<unknown>[] = []
    for (const server of this.raw.values()) closing.push(server.close())
    for (const system of this.systems.values()) closing.push(system.terminate())
    for (const server of this.dtls.values()) closing.push(server.close())
    this.dtls.clear()
    this.raw.clear()
    this.systems.clear()
    await Promise.race([Promise.allSettled(closing), new Promise((r) => setTimeout(r, 3_000).unref())])
  }

  private system(transport: Transport): HeliosSystem {
    const system = this.systems.get(transport)
    if (!system) throw new Error(`no B system over ${transport}`)
    return system
  }
}
