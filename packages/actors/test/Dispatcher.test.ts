import test from 'ava'
import { Dispatcher, type Runnable } from '../src/internal/Dispatcher.js'

/** A cell that has more work until stopped: each run handles `throughput` messages and asks to run again. */
function spinner(t: import('ava').ExecutionContext, d: Dispatcher): Runnable & { handled: number } {
  let stopped = false
  t.teardown(() => {
    stopped = true
  })
  const cell = {
    handled: 0,
    run(throughput: number): number {
      cell.handled += throughput
      if (!stopped) d.schedule(cell)
      return throughput
    },
  }
  return cell
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

test('runNow runs queued cells at once, without waiting for the microtask', (t) => {
  const d = new Dispatcher(10, 100)
  let ran = 0
  d.schedule({
    run: () => {
      ran++
      return 1
    },
  })
  d.runNow()
  t.is(ran, 1)
})

test('however many socket reads call runNow in one turn, a busy actor gets one budget per turn', async (t) => {
  const d = new Dispatcher(10, 100)
  const cell = spinner(t, d)
  d.schedule(cell)
  await Promise.resolve() // the microtask drain runs one budget, then yields to setImmediate
  t.is(cell.handled, 100)
  for (let read = 0; read < 50; read++) d.runNow() // fifty reads in the same poll phase
  t.is(cell.handled, 100, 'no read hands out another budget before the yielded drain ran')
  await turn()
  t.true(cell.handled <= 200 + 100, `${cell.handled} handled after one more turn`)
})

test('a runNow that spends the budget yields: the queued microtask does not run a second budget', async (t) => {
  const d = new Dispatcher(10, 100)
  const cell = spinner(t, d)
  d.schedule(cell) // queues the microtask drain
  d.runNow() // an I/O callback runs it first and spends the budget
  t.is(cell.handled, 100)
  await Promise.resolve()
  await Promise.resolve()
  t.is(cell.handled, 100, 'the microtask found the dispatcher yielding')
  await turn()
  t.true(cell.handled > 100)
})

test('a cell that throws does not strand the cells queued behind it', async (t) => {
  const d = new Dispatcher(10, 100)
  let after = 0
  d.schedule({
    run: () => {
      throw new Error('bug in a cell')
    },
  })
  d.schedule({
    run: () => {
      after++
      return 1
    },
  })
  t.throws(() => d.runNow(), { message: 'bug in a cell' })
  await turn()
  t.is(after, 1)
})
