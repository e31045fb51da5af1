import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'

test('terminate leaves no open handles: a process that terminated its system exits by itself', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/terminateExits.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import=tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  const guard = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(guard)
  t.is(signal, null, 'killed by the guard: the child did not exit by itself')
  t.is(code, 0)
  t.is(stdout.trim(), 'terminated ERR_SYSTEM_TERMINATED')
})
