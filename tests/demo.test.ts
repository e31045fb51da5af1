import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const demo = fileURLToPath(new URL('../packages/actors/examples/demo.ts', import.meta.url))

interface Run {
  readonly code: number | null
  readonly output: string
  readonly ms: number
}

/** Runs the demo as `node --import tsx demo.ts ...args`; kills it (and so its pong) at teardown. */
function runDemo(t: { teardown(fn: () => void): void }, args: string[]): Promise<Run> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', demo, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    output += s
  })
  // 'close', not 'exit': the pong child shares the pipes and its last lines come after ping's exit.
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output, ms: performance.now() - started })))
}

// Serial: each demo saturates two processes; side by side on a small machine they would starve
// each other's heartbeats and measure nothing useful.
test.serial('the demo plays ping-pong over tcp, prints msgs/s and p50/p99, then the Terminated of the stopped pong', async (t) => {
  const run = await runDemo(t, [])
  t.log(run.output)
  t.is(run.code, 0)
  // The demo's own watchdog (--seconds + 12 s after start-up) turns a hang into exit code 1.
  t.log(`took ${run.ms.toFixed(0)} ms`)
  t.regex(run.output, /^ping: associated with helios\.tcp:\/\/pong@127\.0\.0\.1:\d+$/m)
  t.regex(run.output, /^ {2}msgs\/s +[\d,]+ /m)
  t.regex(run.output, /^ {2}p50 round trip +\d+\.\d+ ms$/m)
  t.regex(run.output, /^ {2}p99 round trip +\d+\.\d+ ms$/m)
  t.regex(run.output, /^ping: Terminated\(helios\.tcp:\/\/pong@127\.0\.0\.1:\d+\/user\/pong\) after node shutdown/m)
  t.regex(run.output, /^demo: ok$/m)
})

test.serial('the demo runs over udp with --seconds 1', async (t) => {
  const run = await runDemo(t, ['--transport', 'udp', '--seconds', '1'])
  t.log(run.output)
  t.is(run.code, 0)
  t.regex(run.output, /^ping: associated with helios\.udp:\/\/pong@127\.0\.0\.1:\d+$/m)
  t.regex(run.output, /^ {2}round trips +[\d,]+ in 1\.\d\d s$/m)
  t.regex(run.output, /^ {2}msgs\/s +[\d,]+ /m)
  t.regex(run.output, /^ {2}p50 round trip +\d+\.\d+ ms$/m)
  t.regex(run.output, /^ {2}p99 round trip +\d+\.\d+ ms$/m)
  t.regex(run.output, /^ping: Terminated\(helios\.udp:\/\/pong@127\.0\.0\.1:\d+\/user\/pong\) after node shutdown/m)
})

test.serial('the demo over tls with --kill shows crash detection and removes its throwaway certificates', async (t) => {
  const run = await runDemo(t, ['--transport', 'tls', '--seconds', '1', '--kill'])
  t.log(run.output)
  t.is(run.code, 0)
  const certs = /node certificate in (\S+) \(removed at exit\)/.exec(run.output)?.[1]
  t.truthy(certs)
  t.false(existsSync(certs as string), 'the temp dir of the certificates is gone')
  t.regex(run.output, /^ping: associated with helios\.tls:\/\/pong@127\.0\.0\.1:\d+$/m)
  t.regex(
    run.output,
    /^ping: quarantined helios\.tls:\/\/pong@\S+: down: 127\.0\.0\.1:\d+ refused the connection after the connection to it was lost \(\+\d+ ms\)$/m,
  )
  t.regex(
    run.output,
    /^ping: Terminated\(helios\.tls:\/\/pong@127\.0\.0\.1:\d+\/user\/pong\) after SIGKILL, \d+ ms later, node declared down$/m,
  )
})

test.serial('the demo over udp with --kill: the port unreachable that answers the next heartbeat declares pong down', async (t) => {
  const run = await runDemo(t, ['--transport', 'udp', '--seconds', '1', '--kill'])
  t.log(run.output)
  t.is(run.code, 0)
  t.regex(
    run.output,
    /^ping: quarantined helios\.udp:\/\/pong@\S+: down: 127\.0\.0\.1:\d+ answered with port unreachable \(nothing listens there any more\) \(\+\d+ ms\)$/m,
  )
  t.regex(
    run.output,
    /^ping: Terminated\(helios\.udp:\/\/pong@127\.0\.0\.1:\d+\/user\/pong\) after SIGKILL, \d+ ms later, node declared down$/m,
  )
})

test('the demo refuses an unknown transport with exit code 2', async (t) => {
  const run = await runDemo(t, ['--transport', 'quic'])
  t.is(run.code, 2)
  t.regex(run.output, /unknown transport quic/)
})
