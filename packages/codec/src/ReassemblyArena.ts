/** Options of a {@link ReassemblyArena}. */
export interface ReassemblyArenaOptions {
  /** Bytes of one cell, the unit in which buffered fragments are stored and accounted (default 4 KiB, a page). */
  readonly cellBytes?: number
  /**
   * Bytes of one slab (default 40 MiB). Keep it above 32 MiB: glibc's malloc serves smaller
   * requests from its heap once its mmap threshold has risen (it rises to the size of any mapped
   * block freed, up to 32 MiB on 64-bit systems), and its heap is given back to the system only
   * from the top; a slab above that size is always a mapping of its own, unmapped when released.
   */
  readonly slabBytes?: number
  /** How long a slab that became empty is kept for reuse before it is released (default 1,000 ms). */
  readonly releaseAfterMs?: number
}

/** Default {@link ReassemblyArenaOptions.cellBytes}. */
export const DEFAULT_ARENA_CELL_BYTES = 4096
/** Default {@link ReassemblyArenaOptions.slabBytes}. */
export const DEFAULT_ARENA_SLAB_BYTES = 40 * 1024 * 1024
/** Default {@link ReassemblyArenaOptions.releaseAfterMs}. */
export const DEFAULT_ARENA_RELEASE_AFTER_MS = 1000

interface Slab {
  memory: Uint8Array
  /** Cells below this index have been handed out at least once; those above are untouched. */
  next: number
  /** Cells given back, taken again first (so the pages in use stay few). */
  readonly freed: number[]
  /** Cells in use now. */
  live: number
}

/**
 * Where {@link Reassembler}s keep the fragments of incomplete messages: fixed-size cells carved
 * from a few large slabs, so that what a peer parks and then abandons is given back to the
 * operating system, not only to the allocator.
 *
 * Why: copies of a few hundred KiB each, allocated one by one, come from the C allocator's heap
 * once its mmap threshold has risen, and after a flood of parked fragments that heap stays
 * resident although everything in it is free (the node's RSS stays high). Slabs are mappings of
 * their own: a slab with no cell in use is released after {@link ReassemblyArenaOptions.releaseAfterMs}
 * (its memory detached at once, without waiting for a garbage collection), and the RSS falls back.
 *
 * Cells are numbers (slab slot x cells per slab + index); a message's cells are read and written
 * as one sequence with {@link write} and {@link read}. New cells come from the oldest slab that has
 * room, so that younger slabs empty and can be released.
 */
export class ReassemblyArena {
  /** The arena every {@link Reassembler} of this process uses unless given another. */
  static readonly shared = new ReassemblyArena()

  /** Bytes of one cell (see {@link ReassemblyArenaOptions.cellBytes}). */
  readonly cellBytes: number
  /** Bytes of one slab (see {@link ReassemblyArenaOptions.slabBytes}). */
  readonly slabBytes: number
  /** How long an empty slab is kept (see {@link ReassemblyArenaOptions.releaseAfterMs}). */
  readonly releaseAfterMs: number
  readonly #cellsPerSlab: number
  /** Slabs by slot (a cell number names its slot); undefined where one was released. */
  readonly #slabs: (Slab | undefined)[] = []
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: ReassemblyArenaOptions = {}) {
    const cellBytes = options.cellBytes ?? DEFAULT_ARENA_CELL_BYTES
    const slabBytes = options.slabBytes ?? DEFAULT_ARENA_SLAB_BYTES
    if (!Number.isInteger(cellBytes) || cellBytes < 1) throw new RangeError(`cellBytes must be a positive integer, got ${cellBytes}`)
    if (!Number.isInteger(slabBytes) || slabBytes < cellBytes || slabBytes % cellBytes !== 0) {
      throw new RangeError(`slabBytes must be a multiple of cellBytes (${cellBytes}), got ${slabBytes}`)
    }
    this.cellBytes = cellBytes
    this.slabBytes = slabBytes
    this.releaseAfterMs = options.releaseAfterMs ?? DEFAULT_ARENA_RELEASE_AFTER_MS
    this.#cellsPerSlab = slabBytes / cellBytes
  }

  /** Cells in use now. */
  get cellsInUse(): number {
    let n = 0
    for (const s of this.#slabs) if (s !== undefined) n += s.live
    return n
  }

  /** Slabs held now (in use or waiting to be released). */
  get slabCount(): number {
    let n = 0
    for (const s of this.#slabs) if (s !== undefined) n++
    return n
  }

  /** Cells needed to hold `bytes`. */
  cellsFor(bytes: number): number {
    return Math.ceil(bytes / this.cellBytes)
  }

  /** A free cell (a new slab is made when every slab is full). */
  take(): number {
    const slabs = this.#slabs
    const perSlab = this.#cellsPerSlab
    let emptySlot = -1
    for (let slot = 0; slot < slabs.length; slot++) {
      const slab = slabs[slot]
      if (slab === undefined) {
        if (emptySlot < 0) emptySlot = slot
        continue
      }
      const index = slab.freed.length > 0 ? (slab.freed.pop() as number) : slab.next < perSlab ? slab.next++ : -1
      if (index >= 0) {
        slab.live++
        return slot * perSlab + index
      }
    }
    // A fresh slab: its pages are untouched (not resident) until cells are written.
    const slab: Slab = { memory: new Uint8Array(this.slabBytes), next: 1, freed: [], live: 1 }
    const slot = emptySlot >= 0 ? emptySlot : slabs.length
    slabs[slot] = slab
    return slot * perSlab
  }

  /** Gives `cell` back. */
  give(cell: number): void {
    const slab = this.#slabOf(cell)
    slab.freed.push(cell % this.#cellsPerSlab)
    if (--slab.live === 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.releaseEmpty()
      }, this.releaseAfterMs)
      this.#timer.unref?.()
    }
  }

  /** Copies `src` into the sequence of `cells`, from byte `at` of the sequence (the cells must cover it). */
  write(cells: readonly number[], at: number, src: Uint8Array): void {
    const size = this.cellBytes
    let done = 0
    while (done < src.length) {
      const pos = at + done
      const within = pos % size
      const n = Math.min(size - within, src.length - done)
      const cell = cells[Math.floor(pos / size)] as number
      const slab = this.#slabOf(cell)
      slab.memory.set(src.subarray(done, done + n), (cell % this.#cellsPerSlab) * size + within)
      done += n
    }
  }

  /** Copies the first `length` bytes of the sequence of `cells` into `dst` at `dstOffset`. */
  read(cells: readonly number[], length: number, dst: Uint8Array, dstOffset = 0): void {
    const size = this.cellBytes
    for (let i = 0, done = 0; done < length; i++) {
      const cell = cells[i] as number
      const n = Math.min(size, length - done)
      const start = (cell % this.#cellsPerSlab) * size
      dst.set(this.#slabOf(cell).memory.subarray(start, start + n), dstOffset + done)
      done += n
    }
  }

  /** Releases every slab with no cell in use now; returns the bytes released. */
  releaseEmpty(): number {
    let released = 0
    const slabs = this.#slabs
    for (let slot = 0; slot < slabs.length; slot++) {
      const slab = slabs[slot]
      if (slab === undefined || slab.live > 0) continue
      slabs[slot] = undefined
      releaseNow(slab.memory.buffer as ArrayBuffer)
      released += this.slabBytes
    }
    while (slabs.length > 0 && slabs[slabs.length - 1] === undefined) slabs.pop()
    return released
  }

  #slabOf(cell: number): Slab {
    const slab = this.#slabs[Math.floor(cell / this.#cellsPerSlab)]
    if (slab === undefined) throw new Error(`reassembly arena: cell ${cell} belongs to no slab (given back twice?)`)
    return slab
  }
}

/**
 * Frees an ArrayBuffer's memory now rather than when the garbage collector gets to it (a buffer
 * that lived through an attack is in V8's old generation, which an idle process seldom collects).
 * The buffer is detached: every view of it reads as empty from then on.
 */
function releaseNow(buffer: ArrayBuffer): void {
  const transfer = (buffer as { transfer?: (length: number) => ArrayBuffer }).transfer
  if (typeof transfer === 'function') {
    transfer.call(buffer, 0)
    return
  }
  // Node.js 20 has no ArrayBuffer.prototype.transfer: move the memory into a message on a channel
  // that is closed at once; the message, and with it the memory, is dropped with the channel.
  const { port1, port2 } = new MessageChannel()
  port1.postMessage(null, [buffer])
  port1.close()
  port2.close()
}
