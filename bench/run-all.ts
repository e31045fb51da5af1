/**
 * `pnpm bench`: runs every benchmark of bench/ one after another (never in parallel: they would
 * measure each other), passing the command line on (`--quick`, `--json`, ...). Each prints its
 * own table; with `--json` each prints its own JSON line last, and this program ends with one
 * line `{"bench":"all","results":[<the three objects>]}`. Exits non-zero if any benchmark failed.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const benches = ['transport.bench.ts', 'codec.bench.ts', 'pingpong.bench.ts']
const args = process.argv.slice(2)
const json = args.includes('--json')
const collected: unknown[] = []
let failed = 0

for (const file of benches) {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url))
  process.stdout.write(`\n=== ${file} ${args.join(' ')}\n`)
  const lastLine = await new Promise<string | undefined>((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let tail = ''
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk)
      tail = (tail + chunk.toString('utf8')).slice(-1_000_000)
    })
    child.on('close', (code) => {
      if (code !== 0) {
        failed++
        process.stderr.write(`${file} exited with ${code}\n`)
      }
      resolve(tail.trimEnd().split('\n').pop())
    })
  })
  if (json && lastLine !== undefined) {
    try {
      collected.push(JSON.parse(lastLine))
    } catch {
      failed++
    }
  }
}

if (json) process.stdout.write(`${JSON.stringify({ bench: 'all', results: collected })}\n`)
process.exitCode = failed === 0 ? 0 : 1
