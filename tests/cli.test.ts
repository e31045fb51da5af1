import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { nodeCerts } from './support/certs.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const cli = fileURLToPath(new URL('../packages/actors/src/cli.ts', import.meta.url))

interface Started {
  readonly child: ChildProcessWithoutNullStreams
  /** Everything printed so far (stdout and stderr). */
  output(): string
  /** Resolves with the first match of `re` in the output, past or future. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** Resolves with the exit code once the process exited and its pipes closed. */
  readonly closed: Promise<number | null>
}

/** Starts `helios ...args` as `node --import tsx src/cli.ts`; killed at teardown if still running. */
function helios(t: ExecutionContext, args: string[]): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let text = ''
  const waiters = new Set<() => void>()
  const append = (s: string): void => {
    text += s
    for (const w of waiters) w()
  }
  child.stdout.setEncoding('utf8').on('data', append)
  child.stderr.setEncoding('utf8').on('data', append)
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return {
    child,
    closed,
    output: () => text,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(text)
          if (m === null) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve(m)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no ${re} within ${timeoutMs} ms in:\n${text}`))
        }, timeoutMs)
        waiters.add(check)
        void closed.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check)
            clearTimeout(timer)
            reject(new Error(`exited without ${re}:\n${text}`))
          }
        })
        check()
      })
    },
  }
}

for (const transport of ['tcp', 'tls', 'udp', 'dtls'] as const) {
  test(`${transport}: helios ping gets a reply to each ask from the echo actor of a helios node, which prints the association${transport === 'tcp' ? '; a path without actor exits 1' : ''}`, async (t) => {
    const certs = transport === 'tls' || transport === 'dtls' ? ['--certs', nodeCerts().dir] : []
    const node = helios(t, ['node', '--name', 'echoer', '--transport', transport, '--port', '0', ...certs])
    const path = (await node.waitFor(/^node: echo actor at (\S+)$/m))[1] as string
    t.regex(path, new RegExp(`^helios\\.${transport}://echoer@127\\.0\\.0\\.1:\\d+/user/echo$`))

    const ping = helios(t, ['ping', path, '--count', '3', '--interval', '20', ...certs])
    const code = await ping.closed
    t.log(ping.output())
    t.is(code, 0)
    const replies = ping.output().match(/^ping: reply from \S+\/user\/echo: seq=\d time=\d+\.\d\d ms$/gm) ?? []
    t.is(replies.length, 3)
    t.regex(ping.output(), /^3 asks, 3 replies, 0 without reply$/m)
    t.regex(ping.output(), /^round trip min\/p50\/avg\/p99\/max = [\d./]+ ms$/m)
    await node.waitFor(new RegExp(`^node: [\\d:.]+ associated with helios\\.${transport}://ping-\\d+@127\\.0\\.0\\.1:\\d+`, 'm'))

    if (transport === 'tcp') {
      const missing = helios(t, ['ping', path.replace(/\/echo$/, '/nobody'), '--count', '1'])
      t.is(await missing.closed, 1, 'exit code 1 when no actor lives at the path')
      t.regex(missing.output(), /no actor found at helios\.tcp:\/\/echoer@127\.0\.0\.1:\d+\/user\/nobody/)
    }

    node.child.kill('SIGINT')
    t.is(await node.closed, 0)
    t.regex(node.output(), /^node: stopped$/m)
  })
}

test('helios refuses a malformed command line with exit code 2 and the usage', async (t) => {
  const ping = helios(t, ['ping', 'not-a-path'])
  t.is(await ping.closed, 2)
  t.regex(ping.output(), /^usage:/m)
})

test('helios --help prints the usage and exits 0', async (t) => {
  const help = helios(t, ['--help'])
  t.is(await help.closed, 0)
  t.regex(help.output(), /^usage:\n {2}helios node /m)
  t.regex(help.output(), /^ {2}helios ping /m)
})
