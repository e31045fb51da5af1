/** What the figures were measured on, and how much memory each process holds. */
import { availableParallelism, cpus, totalmem } from 'node:os'
import { isNativeAccelerationEnabled } from 'msgpackr'

export interface MachineInfo {
  nproc: number
  cpuModel: string
  node: string
  platform: string
  totalMemoryMb: number
  /** Whether msgpackr decodes through its native addon (msgpackr-extract). */
  msgpackrNative: boolean
  /**
   * The C allocator's settings from the environment (glibc's `MALLOC_*_` variables and
   * `GLIBC_TUNABLES`), inherited by the node processes a benchmark starts; absent: the defaults.
   */
  allocator?: string
}

export function machineInfo(): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    msgpackrNative: isNativeAccelerationEnabled,
    ...allocatorSettings(),
  }
}

/** `MALLOC_MMAP_THRESHOLD_=65536` and the like, when set (see MachineInfo.allocator). */
function allocatorSettings(): { allocator?: string } {
  const set = Object.entries(process.env)
    .filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES')
    .map(([k, v]) => `${k}=${v}`)
    .sort()
  return set.length > 0 ? { allocator: set.join(' ') } : {}
}

/** Resident set size now and the peak since the process started, in MiB. */
export interface MemoryReport {
  pid: number
  /** RSS when this module was loaded: node + the tsx loader (its hooks thread) + the bench code, before any traffic. */
  startRssMb: number
  rssMb: number
  maxRssMb: number
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10
const startRssMb = mb(process.memoryUsage.rss())

export function memoryReport(): MemoryReport {
  return {
    pid: process.pid,
    startRssMb,
    rssMb: mb(process.memoryUsage.rss()),
    // resourceUsage().maxRSS is the kernel's high-water mark, in KiB: it catches peaks between samples.
    maxRssMb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
  }
}
