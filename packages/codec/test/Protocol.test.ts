import test from 'ava'
import { readFileSync } from 'node:fs'
import { decodePreamble } from '../src/index.js'
import { codec, compressedReceiver, exampleBytes, examples } from './golden.js'

/** The `<!-- golden: name -->` hex blocks of docs/PROTOCOL.md; `#` starts a comment. */
function goldenBlocks(): Map<string, Buffer> {
  const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const blocks = new Map<string, Buffer>()
  const pattern = /<!-- golden: ([\w-]+) -->\s*```hex\n([\s\S]*?)```/g
  for (const match of doc.matchAll(pattern)) {
    const hex = (match[2] as string)
      .split('\n')
      .map((line) => line.replace(/#.*$/, ''))
      .join('')
      .replace(/\s+/g, '')
    blocks.set(match[1] as string, Buffer.from(hex, 'hex'))
  }
  const hexBlocks = doc.match(/```hex/g)?.length ?? 0
  if (hexBlocks !== blocks.size) throw new Error(`${hexBlocks - blocks.size} hex blocks without a golden name`)
  return blocks
}

const blocks = goldenBlocks()

test('every hex example in PROTOCOL.md has a pinned example and every example is in the document', (t) => {
  t.deepEqual([...blocks.keys()].sort(), Object.keys(examples).sort())
})

for (const name of Object.keys(examples)) {
  test(`PROTOCOL.md example "${name}" is exactly what the codec writes and reads`, (t) => {
    const bytes = blocks.get(name)
    if (bytes === undefined) return t.fail(`no block ${name}`)
    t.is(Buffer.from(exampleBytes(name)).toString('hex'), bytes.toString('hex'))
    const example = examples[name]
    if (example?.pdu === undefined) {
      t.truthy(decodePreamble(bytes))
      return
    }
    const payload = name.startsWith('frame-') ? bytes.subarray(4) : bytes
    if (name.startsWith('frame-')) t.is(bytes.readUInt32BE(0), payload.length)
    const decoded = example.compressed ? compressedReceiver(example.generation).decode(payload) : codec.decode(payload)
    if (example.pdu.type === 'fragment' && decoded?.type === 'fragment') {
      t.deepEqual({ ...decoded, chunk: [...decoded.chunk] }, { ...example.pdu, chunk: [...example.pdu.chunk] })
    } else {
      t.deepEqual(decoded, example.pdu)
    }
  })
}
