import test from 'ava'
import { execFile } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The README's TypeScript examples are run as they are written, so the docs stay true.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)

function run(code: string, name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`./.readme-${name}.tmp.ts`, import.meta.url))
  writeFileSync(file, code)
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { timeout: 30_000 }, (err, stdout, stderr) => {
      rmSync(file, { force: true })
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr })
    })
  })
}

test('the README has its two examples', (t) => {
  t.is(blocks.length, 2)
})

test('the README actor example runs and prints what its comments say', async (t) => {
  const r = await run(blocks[0] as string, 'actors')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^hello\n/)
  t.regex(r.stdout, /gone: helios\.tcp:\/\/B@127\.0\.0\.1:\d+\/user\/echo/)
})

test('the README transport example binds an echo server', async (t) => {
  const r = await run(`${blocks[1] as string}\nawait server.close()\n`, 'transport')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /listening on .*port: \d+/)
})

// Each package's README example runs too.
const packageExamples: [string, RegExp][] = [
  ['transport', /^HELLO\n$/],
  ['codec', /^\d+ bytes: Greet\(Ada\)\n$/],
  ['actors', /^hello over tcp\n$/],
]
for (const [pkg, expected] of packageExamples) {
  test(`the README of @helios/${pkg} has one example, and it runs`, async (t) => {
    const text = readFileSync(fileURLToPath(new URL(`../packages/${pkg}/README.md`, import.meta.url)), 'utf8')
    const code = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
    t.is(code.length, 1)
    const r = await run(code[0] as string, `pkg-${pkg}`)
    t.is(r.code, 0, r.stderr)
    t.regex(r.stdout, expected)
  })
}
