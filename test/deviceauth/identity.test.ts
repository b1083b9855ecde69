import { describe, expect, test } from 'bun:test'
import {
  IdentityError,
  identityHash,
  normaliseIdentity,
  parseIdentity,
} from '../../src/services/deviceauth/identity.ts'

/** Normalises an `id_data` text as the server does on an auth request. */
const normalise = (text: string) => normaliseIdentity(parseIdentity(text))

// Expected outputs are what Go's encoding/json gives for json.Marshal of the map json.Unmarshal made.
describe('identity normalisation matches Go encoding/json', () => {
  test.each([
    ['what the Mender client sends', '{"mac":"9a:aa:38:a8:ae:c9"}', '{"mac":"9a:aa:38:a8:ae:c9"}'],
    [
      'whitespace goes, keys are sorted',
      '{ "sn" : "X1",\n "mac": "m", "cpu": "c" }',
      '{"cpu":"c","mac":"m","sn":"X1"}',
    ],
    [
      'nested objects are sorted at every level, arrays keep their order',
      '{"z":{"b":1,"a":[{"y":2,"x":1},3]},"a":null}',
      '{"a":null,"z":{"a":[{"x":1,"y":2},3],"b":1}}',
    ],
    ['a repeated key keeps its last value', '{"mac":"a","mac":"b"}', '{"mac":"b"}'],
    [
      '<, > and & are escaped',
      '{"k":"<a href=\\"x\\">&amp;</a>"}',
      '{"k":"\\u003ca href=\\"x\\"\\u003e\\u0026amp;\\u003c/a\\u003e"}',
    ],
    ['HTML characters in keys too', '{"a<b":1}', '{"a\\u003cb":1}'],
    ['U+2028 and U+2029 are escaped', '{"k":"a\u2028b\\u2029c"}', '{"k":"a\\u2028b\\u2029c"}'],
    [
      'control characters use short escapes where Go has them, else \\u00xx',
      '{"k":"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"}',
      '{"k":"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f"}',
    ],
    ['other non-ASCII text is written as UTF-8', '{"k":"\\u00e9\\ud83d\\ude00 ü"}', '{"k":"é😀 ü"}'],
    ['a lone surrogate becomes U+FFFD', '{"k":"a\\ud800b"}', '{"k":"a\ufffdb"}'],
    ['slashes and quotes', '{"k":"a/b\\\\c\\"d"}', '{"k":"a/b\\\\c\\"d"}'],
    [
      'booleans, null, empty containers',
      '{"t":true,"f":false,"n":null,"o":{},"l":[]}',
      '{"f":false,"l":[],"n":null,"o":{},"t":true}',
    ],
    [
      'keys sort by UTF-8 bytes, not UTF-16 units',
      '{"\\uff21":1,"\\ud83d\\ude00":2,"z":3,"Z":4,"\\u00e9":5}',
      '{"Z":4,"z":3,"é":5,"Ａ":1,"😀":2}',
    ],
  ])('%s', (_name, input, expected) => {
    expect(normalise(input)).toBe(expected)
  })

  test.each([
    ['1.0', '1'],
    ['-0', '-0'],
    ['-0.0', '-0'],
    ['0', '0'],
    ['1e21', '1e+21'],
    ['1e20', '100000000000000000000'],
    ['123456789e15', '1.23456789e+23'],
    ['0.000001', '0.000001'],
    ['0.0000001', '1e-7'],
    ['1.5e-10', '1.5e-10'],
    ['1e-100', '1e-100'],
    ['12345678901234567890', '12345678901234567000'],
    ['9007199254740993', '9007199254740992'],
    ['0.1', '0.1'],
    ['3.14159', '3.14159'],
    ['-2.5E+3', '-2500'],
    ['1.7976931348623157e308', '1.7976931348623157e+308'],
    ['5e-324', '5e-324'],
  ])('the number %s is written as %s (through float64)', (input, expected) => {
    expect(normalise(`{"n":${input}}`)).toBe(`{"n":${expected}}`)
  })

  test('a preauthorization (an object, not text) normalises the same way as the device sends it', () => {
    const fromDevice = normalise('{"sn":"X1","mac":"00:11"}')
    expect(normaliseIdentity({ mac: '00:11', sn: 'X1' })).toBe(fromDevice)
    expect(identityHash(fromDevice)).toBe(
      new Bun.CryptoHasher('sha256').update('{"mac":"00:11","sn":"X1"}').digest('hex'),
    )
  })

  test('the hash is the hex SHA-256 of the normalised text', () => {
    expect(identityHash('{"mac":"9a:aa:38:a8:ae:c9"}')).toBe(
      new Bun.CryptoHasher('sha256').update('{"mac":"9a:aa:38:a8:ae:c9"}').digest('hex'),
    )
    expect(identityHash('{}')).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a')
  })
})

describe('identity data that is refused', () => {
  test.each([
    ['not JSON', '{"mac":'],
    ['an array', '["mac"]'],
    ['a string', '"mac"'],
    ['null', 'null'],
    ['trailing text', '{"mac":"a"} x'],
  ])('%s', (_name, input) => {
    expect(() => parseIdentity(input)).toThrow(IdentityError)
  })

  test('a number beyond float64', () => {
    expect(() => normalise('{"n":1e400}')).toThrow('number out of range')
  })

  test('nesting deeper than Go decodes (10000 levels; a preauthorization body may nest that deep)', () => {
    const nested = (levels: number) => `{"a":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`
    expect(normaliseIdentity(JSON.parse(nested(10_000)))).toStartWith('{"a":[[')
    expect(() => normaliseIdentity(JSON.parse(nested(10_001)))).toThrow('exceeded max depth')
  })

  test('an auth request id_data over 4 KiB or 64 keys', () => {
    expect(() => parseIdentity(JSON.stringify({ a: 'x'.repeat(4096) }))).toThrow('longer than 4096 bytes')
    const keys = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 1]))
    expect(() => parseIdentity(JSON.stringify(keys))).toThrow('more than 64 keys')
  })
})
