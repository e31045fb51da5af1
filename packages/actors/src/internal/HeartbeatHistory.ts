/**
 * The last `maxSampleSize` heartbeat intervals with running sums, so mean and variance cost O(1).
 * (Akka's `HeartbeatHistory`, mutable: a ring buffer instead of an immutable vector.)
 */
export class HeartbeatHistory {
  readonly maxSampleSize: number
  readonly #intervals: Float64Array
  #next = 0
  #count = 0
  #sum = 0
  #squaredSum = 0

  constructor(maxSampleSize: number) {
    this.maxSampleSize = maxSampleSize
    this.#intervals = new Float64Array(maxSampleSize)
  }

  get count(): number {
    return this.#count
  }

  get mean(): number {
    return this.#sum / this.#count
  }

  get variance(): number {
    const mean = this.mean
    return Math.max(0, this.#squaredSum / this.#count - mean * mean)
  }

  get stdDeviation(): number {
    return Math.sqrt(this.variance)
  }

  add(interval: number): void {
    if (this.#count === this.maxSampleSize) {
      const dropped = this.#intervals[this.#next] as number
      this.#sum -= dropped
      this.#squaredSum -= dropped * dropped
    } else {
      this.#count++
    }
    this.#intervals[this.#next] = interval
    this.#next = (this.#next + 1) % this.maxSampleSize
    this.#sum += interval
    this.#squaredSum += interval * interval
  }
}
