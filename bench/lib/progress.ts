/**
 * Progress on stderr: a redrawn bar when stderr is a terminal, one line per step otherwise (CI
 * logs, pipes), so stdout keeps only the tables and the final JSON line.
 */
export class Progress {
  private readonly total: number
  private done = 0
  private label = 'starting'
  private readonly tty: boolean
  private readonly started = Date.now()
  private stepStarted = Date.now()
  private timer: NodeJS.Timeout | undefined

  constructor(total: number, tty = process.stderr.isTTY === true) {
    this.total = Math.max(1, total)
    this.tty = tty
    if (tty) {
      this.timer = setInterval(() => this.render(), 250)
      this.timer.unref()
    }
  }

  /** Starts the next step. */
  step(label: string): void {
    this.label = label
    this.stepStarted = Date.now()
    if (this.tty) this.render()
    else process.stderr.write(`[${this.done + 1}/${this.total}] ${label}\n`)
  }

  /** Says what is going on between steps (bar only; no line of its own). */
  status(label: string): void {
    this.label = label
    this.stepStarted = Date.now()
    if (this.tty) this.render()
  }

  /** Marks the current step finished. */
  complete(): void {
    this.done = Math.min(this.total, this.done + 1)
    if (this.tty) this.render()
  }

  /** Prints a note without breaking the bar. */
  note(text: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K')
    process.stderr.write(`${text}\n`)
    if (this.tty) this.render()
  }

  end(): void {
    if (this.timer) clearInterval(this.timer)
    if (this.tty) process.stderr.write('\r\x1b[2K')
    process.stderr.write(`done: ${this.done} steps in ${((Date.now() - this.started) / 1000).toFixed(1)} s\n`)
  }

  private render(): void {
    const width = 28
    const filled = Math.round((this.done / this.total) * width)
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled)
    const pct = String(Math.round((this.done / this.total) * 100)).padStart(3)
    const total = ((Date.now() - this.started) / 1000).toFixed(0)
    const step = ((Date.now() - this.stepStarted) / 1000).toFixed(1)
    const columns = process.stderr.columns > 20 ? process.stderr.columns : 100
    const line = `[${bar}] ${pct}% ${this.done}/${this.total} ${total}s | ${this.label} (${step}s)`
    process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`)
  }
}
