import test from 'ava'
import fc from 'fast-check'
import { ActorPath, Address, InvalidActorPathError, InvalidAddressError } from '../src/index.js'

const systemName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,12}$/)
const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain())
const port = fc.integer({ min: 0, max: 65535 })
const remoteAddress = fc
  .tuple(fc.constantFrom('helios.tcp' as const, 'helios.tls' as const, 'helios.udp' as const), systemName, host, port)
  .map(([p, s, h, n]) => new Address(p, s, h, n))
const address = fc.oneof(
  remoteAddress,
  systemName.map((s) => Address.local(s)),
)
const element = fc.stringMatching(/^[A-Za-z0-9_\-~$+=:@!*',;&.]{1,12}$/).filter((e) => e !== '.' && e !== '..')
const uid = fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined })
const path = fc.tuple(address, fc.array(element, { minLength: 1, maxLength: 5 }), uid).map(([a, e, u]) => new ActorPath(a, e, u))

test('formats a remote path with host, port, elements and uid', (t) => {
  const p = new ActorPath(new Address('helios.tcp', 'A', '127.0.0.1', 41234), ['user', 'a', 'b'], 17)
  t.is(p.toString(), 'helios.tcp://A@127.0.0.1:41234/user/a/b')
  t.is(p.toSerializationFormat(), 'helios.tcp://A@127.0.0.1:41234/user/a/b#17')
  t.is(p.name, 'b')
  t.is(p.parent.toString(), 'helios.tcp://A@127.0.0.1:41234/user/a')
})

test('parses every part of a path, IPv6 hosts in brackets', (t) => {
  const p = ActorPath.parse('helios.udp://sys-1@[::1]:9000/user/echo#42')
  t.is(p.address.protocol, 'helios.udp')
  t.is(p.address.system, 'sys-1')
  t.is(p.address.host, '::1')
  t.is(p.address.port, 9000)
  t.deepEqual(p.elements, ['user', 'echo'])
  t.is(p.uid, 42)
  t.is(p.address.toString(), 'helios.udp://sys-1@[::1]:9000')
})

test('parses a local path and the root path', (t) => {
  t.deepEqual(ActorPath.parse('helios://A/user/x').elements, ['user', 'x'])
  t.true(ActorPath.parse('helios://A/user/x').address.isLocal)
  t.deepEqual(ActorPath.parse('helios.tcp://A@h:1').elements, [])
  t.is(ActorPath.parse('helios.tcp://A@h:1/').toString(), 'helios.tcp://A@h:1/')
})

test('round-trips any path through format and parse', (t) => {
  fc.assert(
    fc.property(path, (p) => {
      const text = p.toSerializationFormat()
      const back = ActorPath.parse(text)
      return back.equals(p) && back.toSerializationFormat() === text && back.address.equals(p.address)
    }),
  )
  t.pass()
})

test('round-trips any address through format and parse', (t) => {
  fc.assert(fc.property(address, (a) => Address.parse(a.toString()).equals(a)))
  t.pass()
})

test('rejects malformed paths with a typed error', (t) => {
  const bad = [
    '',
    'user/a',
    'akka.tcp://A@h:1/user/a',
    'helios.tcp://A/user/a',
    'helios://A@h:1/user',
    'helios.tcp://A@h/user',
    'helios.tcp://A@h:70000/user',
    'helios.tcp://A@h:01/user',
    'helios.tcp://A@::1:5/user',
    'helios.tcp://A@[zz]:5/user',
    'helios.tcp://-A@h:1/user',
    'helios.tcp://A@h:1/user//a',
    'helios.tcp://A@h:1/user/a/',
    'helios.tcp://A@h:1/user/a#0',
    'helios.tcp://A@h:1/user/a#x',
    'helios.tcp://A@h:1/user/a#1#2',
    'helios.tcp://A@h:1/user/../a',
    'helios.tcp://A@h:1/user/a b',
    'helios.tcp://A@h:1#5',
  ]
  for (const input of bad) {
    const error = t.throws(() => ActorPath.parse(input), { instanceOf: InvalidActorPathError }, input)
    t.is(error?.code, 'ERR_INVALID_ACTOR_PATH')
  }
  t.throws(() => Address.parse('helios.tcp://A@h'), { instanceOf: InvalidAddressError, code: 'ERR_INVALID_ADDRESS' })
})

test('any string either parses to a path that formats back to it or throws InvalidActorPathError', (t) => {
  const text = fc.oneof(
    fc.string(),
    fc.tuple(path, fc.string({ maxLength: 3 }), fc.nat(40)).map(([p, s, i]) => {
      const f = p.toSerializationFormat()
      const at = i % (f.length + 1)
      return f.slice(0, at) + s + f.slice(at)
    }),
  )
  fc.assert(
    fc.property(text, (input) => {
      try {
        const p = ActorPath.parse(input)
        const again = ActorPath.parse(p.toSerializationFormat())
        return again.equals(p)
      } catch (error) {
        return error instanceof InvalidActorPathError
      }
    }),
    { numRuns: 2000 },
  )
  t.pass()
})

test('equality takes the uid into account, toString does not', (t) => {
  const a = ActorPath.parse('helios.tcp://A@h:1/user/a#1')
  const b = ActorPath.parse('helios.tcp://A@h:1/user/a#2')
  t.false(a.equals(b))
  t.is(a.toString(), b.toString())
  t.true(a.withUid(undefined).equals(b.withUid(undefined)))
})

test('hosts are canonical: every form of one IPv4 or IPv6 address, and any case of a name, is one address', (t) => {
  const forms: [string, string][] = [
    ['127.1', '127.0.0.1'],
    ['127.000.000.001', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['10.1.258', '10.1.1.2'],
    ['[::ffff:127.0.0.1]', '127.0.0.1'],
    ['[0:0:0:0:0:FFFF:7F00:1]', '127.0.0.1'],
    ['[0:0:0:0:0:0:0:1]', '[::1]'],
    ['[2001:DB8:0:0:1:0:0:1]', '[2001:db8::1:0:0:1]'],
    ['[2001:db8:0:1:1:1:1:1]', '[2001:db8:0:1:1:1:1:1]'],
    ['[fe80::0001%eth0]', '[fe80::1%eth0]'],
    ['LocalHost', 'localhost'],
    ['Node-1.Example.COM', 'node-1.example.com'],
  ]
  for (const [input, canonical] of forms) {
    const a = Address.parse(`helios.tcp://A@${input}:2552`)
    t.is(a.toString(), `helios.tcp://A@${canonical}:2552`, input)
    t.true(a.equals(Address.parse(`helios.tcp://A@${canonical}:2552`)), input)
    t.is(ActorPath.parse(`helios.tcp://A@${input}:2552/user/echo`).toString(), `helios.tcp://A@${canonical}:2552/user/echo`)
  }
  t.is(new Address('helios.udp', 'B', '127.000.000.001', 1).host, '127.0.0.1')
  // Names that only look like numbers stay names; numbers beyond what IPv4 holds too.
  for (const name of ['1.2.3.4.5', '256.1.1.1', '4294967296', '0x1g.0.0.1', '09.1.1.1', 'host-1']) {
    t.is(Address.parse(`helios.tcp://A@${name}:1`).host, name.toLowerCase(), name)
  }
})
