/**
 * What the mesh benchmark reads about its node processes from outside them, without asking them:
 * CPU time and RSS (/proc/<pid>/stat, status), open descriptors (/proc/<pid>/fd), packets sent
 * (/proc/<pid>/net/dev: the counters of the process's own network namespace), established TCP
 * connections with their bytes (`ss -tieH`, in each node's namespace), the machine's CPU
 * (/proc/stat) and what other processes used meanwhile.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { promisify } from 'node:util'

const run = promisify(execFile)

let clkTck = 100
try {
  const { execFileSync } = await import('node:child_process')
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
} catch {
  /* the usual value */
}
/** Clock ticks per second of /proc/<pid>/stat. */
export const CLK_TCK = clkTck

/** CPU time (user + system) of a process, in seconds; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // after "pid (comm) ": state is field 3, utime 14, stime 15
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return undefined
  }
}

/** Resident set size in MiB (VmRSS). */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined
  } catch {
    return undefined
  }
}

/** The soft limit on open files (/proc/<pid>/limits). */
export function nofileLimit(pid: number | 'self'): number | undefined {
  try {
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
    return m ? (m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1])) : undefined
  } catch {
    return undefined
  }
}

/** Open descriptors, and the inodes of its sockets. */
export function descriptors(pid: number): { count: number; sockets: Set<number> } {
  const sockets = new Set<number>()
  let names: string[] = []
  try {
    names = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return { count: 0, sockets }
  }
  for (const n of names) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${n}`))
      if (m) sockets.add(Number(m[1]))
    } catch {
      /* closed meanwhile */
    }
  }
  return { count: names.length, sockets }
}

export interface IfCounters {
  txPackets: number
  rxPackets: number
  txBytes: number
  rxBytes: number
}

/** The counters of interface `dev` in the network namespace of `pid`. */
export function netDev(pid: number, dev: string): IfCounters | undefined {
  try {
    for (const line of readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n')) {
      const [name, rest] = line.split(':')
      if (name?.trim() !== dev || rest === undefined) continue
      const f = rest.trim().split(/\s+/).map(Number)
      // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets ...
      return { rxBytes: f[0] as number, rxPackets: f[1] as number, txBytes: f[8] as number, txPackets: f[9] as number }
    }
  } catch {
    /* gone */
  }
  return undefined
}

/** UDP datagrams the kernel dropped in the network namespace of `pid`: InErrors, and RcvbufErrors (a full receive buffer). */
export function udpDrops(pid: number): { inErrors: number; rcvbufErrors: number } | undefined {
  try {
    const lines = readFileSync(`/proc/${pid}/net/snmp`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'))
    const names = (lines[0] ?? '').split(/\s+/)
    const values = (lines[1] ?? '').split(/\s+/).map(Number)
    const at = (name: string): number => values[names.indexOf(name)] ?? Number.NaN
    return { inErrors: at('InErrors'), rcvbufErrors: at('RcvbufErrors') }
  } catch {
    return undefined
  }
}

/** One established TCP connection as `ss` shows it. */
export interface TcpConn {
  local: string
  peer: string
  inode: number
  bytesSent: number
  bytesReceived: number
}

/** Parses `ss -tinHe state established` output (no State column; info on continuation lines). */
export function parseSs(text: string): TcpConn[] {
  const out: TcpConn[] = []
  let cur: string[] = []
  const flush = (): void => {
    if (cur.length === 0) return
    const rec = cur.join(' ')
    cur = []
    const addrs = rec.split(/\s+/).filter((t) => /^(\[[0-9a-f:.]+\]|[0-9.]+|\*):\d+$/i.test(t))
    const ino = /\bino:(\d+)/.exec(rec)
    if (addrs.length < 2 || ino === null) return
    const norm = (a: string): string => a.replace(/^\[::ffff:([0-9.]+)\]/, '$1')
    out.push({
      local: norm(addrs[0] as string),
      peer: norm(addrs[1] as string),
      inode: Number(ino[1]),
      bytesSent: Number(/\bbytes_sent:(\d+)/.exec(rec)?.[1] ?? 0),
      bytesReceived: Number(/\bbytes_received:(\d+)/.exec(rec)?.[1] ?? 0),
    })
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (/^\s/.test(line)) cur.push(line.trim())
    else {
      flush()
      cur.push(line.trim())
    }
  }
  flush()
  return out
}

/** Established TCP connections of a namespace (`ns` undefined: this process's own). */
export async function tcpConnections(ns: string | undefined): Promise<TcpConn[]> {
  const args = [...(ns !== undefined ? ['-N', ns] : []), '-tinHe', 'state', 'established']
  const { stdout } = await run('ss', args, { maxBuffer: 256 * 2 ** 20 })
  return parseSs(stdout)
}

/** Runs `fn` over `items`, `parallel` at a time. */
export async function mapLimit<T, R>(items: readonly T[], parallel: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i)
    }),
  )
  return out
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = (f[3] ?? 0) + (f[4] ?? 0)
  return { busy: total - idle, total }
}

/** CPU seconds of every process of the machine now, with its command line (for "what else ran"). */
export function allProcesses(): Map<number, { cpu: number; cmd: string }> {
  const out = new Map<number, { cpu: number; cmd: string }>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const pid = Number(d)
    const cpu = cpuSeconds(pid)
    if (cpu === undefined) continue
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
    } catch {
      /* gone */
    }
    out.set(pid, { cpu, cmd })
  }
  return out
}

/**
 * What a process is, without its directories and arguments (which may hold paths, tokens or
 * environments): the program's name, and for an interpreter (node, npm, python, sh) the script's.
 */
export function shortCommand(cmd: string): string {
  const words = cmd.split(/\s+/).filter(Boolean)
  const base = (w: string): string => w.slice(w.lastIndexOf('/') + 1)
  const program = base(words[0] ?? '')
  if (!/^(node|npm|npx|python3?|sh|bash|tsx)$/.test(program)) return program.slice(0, 60)
  const script = words.slice(1).find((w) => !w.startsWith('-'))
  return `${program}${script !== undefined ? ` ${base(script)}` : ''}`.slice(0, 60)
}

/**
 * The processes, other than `exclude`, that used the most CPU between two `allProcesses()`
 * snapshots (processes that started and ended in between are not seen).
 */
export function otherProcesses(
  before: Map<number, { cpu: number; cmd: string }>,
  after: Map<number, { cpu: number; cmd: string }>,
  exclude: Set<number>,
  limit = 6,
): { cpuSeconds: number; top: { pid: number; cpuSeconds: number; cmd: string }[] } {
  const rows: { pid: number; cpuSeconds: number; cmd: string }[] = []
  let total = 0
  for (const [pid, a] of after) {
    if (exclude.has(pid)) continue
    const used = a.cpu - (before.get(pid)?.cpu ?? 0)
    if (used <= 0) continue
    total += used
    rows.push({ pid, cpuSeconds: Math.round(used * 10) / 10, cmd: shortCommand(a.cmd) })
  }
  rows.sort((x, y) => y.cpuSeconds - x.cpuSeconds)
  return { cpuSeconds: Math.round(total * 10) / 10, top: rows.slice(0, limit) }
}
