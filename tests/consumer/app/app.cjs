// CommonJS: require() of the ESM packages (Node 20.19+ and 22.12+ load ES modules without
// top-level await from require).
const actors = require('@helios/actors')
const codec = require('@helios/codec')
const transport = require('@helios/transport')
const testing = require('@helios/transport/testing')
const names = { actors, codec, transport, testing }
for (const [name, mod] of Object.entries(names)) {
  if (Object.keys(mod).length === 0) throw new Error(`require gave nothing for ${name}`)
}
if (typeof actors.ActorSystem.create !== 'function') throw new Error('no ActorSystem.create')
console.log(
  `require(): @helios/actors ${Object.keys(actors).length} exports, @helios/codec ${Object.keys(codec).length}, @helios/transport ${Object.keys(transport).length}, @helios/transport/testing ${Object.keys(testing).length}`,
)
