import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChunkReader } from '../../src/artifact/chunks.ts'
import { ArtifactError } from '../../src/artifact/errors.ts'
import { TarReader, tarHeader } from '../../src/artifact/tar.ts'
import { asApiError } from '../../src/gateway/errors.ts'
import { chunked } from '../helpers/artifact-builder.ts'
import { run } from '../helpers/mender-tools.ts'
import { paxRecords, type TarMember, tar } from '../helpers/tar.ts'

type Read = { name: string; type: string; size: number; mtime: number; content: Uint8Array }

async function readAll(archive: Uint8Array, chunkSize = 1000): Promise<Read[]> {
  const reader = new TarReader(new ChunkReader(chunked(archive, chunkSize), 'test.tar'))
  const out: Read[] = []
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    const parts: Uint8Array[] = []
    for await (const chunk of entry.body) parts.push(chunk.slice())
    out.push({
      name: entry.name,
      type: entry.type,
      size: entry.size,
      mtime: entry.mtime,
      content: Buffer.concat(parts),
    })
  }
  return out
}

async function failure(archive: Uint8Array): Promise<ArtifactError> {
  const err = await readAll(archive).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof ArtifactError)) throw new Error(`expected an ArtifactError, got ${String(err)}`)
  return err
}

let dir: string
const longName = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(40)}.bin`
const random = crypto.getRandomValues(new Uint8Array(70_001))

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bender-tar-'))
  mkdirSync(join(dir, 'src', longName.slice(0, longName.lastIndexOf('/'))), { recursive: true })
  writeFileSync(join(dir, 'src', longName), random)
  writeFileSync(join(dir, 'src', 'short.txt'), 'short\n')
  writeFileSync(join(dir, 'src', 'empty'), '')
  for (const file of [longName, 'short.txt', 'empty'])
    utimesSync(join(dir, 'src', file), 1600000000, 1600000000)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('archives written by GNU tar', () => {
  for (const format of ['gnu', 'pax', 'ustar', 'v7']) {
    test(`${format} format, long names included where the format allows`, async () => {
      const files = format === 'v7' ? ['short.txt', 'empty'] : [longName, 'short.txt', 'empty']
      const out = join(dir, `${format}.tar`)
      run(['tar', `--format=${format}`, '-cf', out, '-C', join(dir, 'src'), ...files])
      const entries = (await readAll(new Uint8Array(await Bun.file(out).arrayBuffer()), 777)).filter(
        (e) => e.type === 'file',
      )
      expect(entries.map((e) => e.name)).toEqual(files)
      const byName = new Map(entries.map((e) => [e.name, e]))
      if (format !== 'v7') expect(byName.get(longName)?.content).toEqual(random)
      expect(new TextDecoder().decode(byName.get('short.txt')?.content)).toBe('short\n')
      expect(byName.get('empty')?.size).toBe(0)
      for (const entry of entries) expect(Math.floor(entry.mtime)).toBe(1600000000)
    })
  }

  test('directories are reported as such, without the trailing slash', async () => {
    const out = join(dir, 'dirs.tar')
    run(['tar', '-cf', out, '-C', join(dir, 'src'), 'd'.repeat(60)])
    const entries = await readAll(new Uint8Array(await Bun.file(out).arrayBuffer()))
    expect(entries[0]).toMatchObject({ name: 'd'.repeat(60), type: 'directory' })
    expect(entries.at(-1)).toMatchObject({ name: longName, type: 'file', size: random.byteLength })
  })
})

describe('what the reader understands', () => {
  test('unread bodies are skipped, and a stale body iterator yields nothing', async () => {
    const reader = new TarReader(
      new ChunkReader(
        chunked(
          tar([
            { name: 'a', content: random },
            { name: 'b', content: 'bee' },
          ]),
          4096,
        ),
        't',
      ),
    )
    const first = await reader.next()
    const second = await reader.next()
    expect(second?.name).toBe('b')
    const stale: Uint8Array[] = []
    for await (const chunk of first!.body) stale.push(chunk)
    expect(stale).toEqual([])
    const parts: Uint8Array[] = []
    for await (const chunk of second!.body) parts.push(chunk)
    expect(new TextDecoder().decode(Buffer.concat(parts))).toBe('bee')
    expect(await reader.next()).toBeNull()
  })

  test('pax path, size and fractional mtime override the ustar fields', async () => {
    const archive = tar([
      {
        name: 'PaxHeaders/x',
        type: 'x',
        content: paxRecords({ path: 'real/name.bin', size: '3', mtime: '1600000000.25' }),
      },
      { name: 'ignored', size: 999, content: 'abc' },
    ])
    expect(await readAll(archive)).toEqual([
      {
        name: 'real/name.bin',
        type: 'file',
        size: 3,
        mtime: 1600000000.25,
        content: new TextEncoder().encode('abc'),
      },
    ])
  })

  test('ustar prefix, GNU base-256 sizes, global pax headers', async () => {
    const archive = tar([
      { name: 'PaxHeaders/g', type: 'g', content: paxRecords({ comment: 'global' }) },
      { name: 'file.bin', prefix: 'some/dir', content: 'xyz', binarySize: true },
    ])
    expect(await readAll(archive)).toMatchObject([{ name: 'some/dir/file.bin', size: 3 }])
  })

  test('a clean end of data between members ends the archive, as Go allows', async () => {
    expect((await readAll(tar([{ name: 'a', content: 'a' }], false))).map((e) => e.name)).toEqual(['a'])
  })

  test('headers it writes read back, long names and big sizes included', async () => {
    const name = 'n'.repeat(180)
    const bytes = Buffer.concat([
      tarHeader({ name, size: 2, mtime: 5 }),
      Buffer.from('hi'),
      new Uint8Array(510),
    ])
    expect(await readAll(bytes)).toMatchObject([{ name, size: 2, mtime: 5 }])
    const huge = tarHeader({ name: 'big', size: 2 ** 40, mtime: 0 })
    const reader = new TarReader(new ChunkReader(chunked(huge, 512), 't'))
    expect((await reader.next())?.size).toBe(2 ** 40)
  })
})

describe('hostile archives fail with a clear ArtifactError and never hang', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['.. in a name', () => tar([{ name: 'a/../../etc/passwd', content: 'x' }]), /path traversal/],
    ['.. alone', () => tar([{ name: '..', content: 'x' }]), /path traversal/],
    ['an absolute name', () => tar([{ name: '/etc/passwd', content: 'x' }]), /absolute path/],
    [
      '.. through a pax path',
      () =>
        tar([
          { name: 'p', type: 'x', content: paxRecords({ path: '../escape' }) },
          { name: 'safe', content: '' },
        ]),
      /path traversal/,
    ],
    [
      'an absolute GNU long name',
      () => tar([{ name: '././@LongLink', type: 'L', content: `/${'x'.repeat(120)}\0` }, { name: 'safe' }]),
      /absolute path/,
    ],
    ['.. through the ustar prefix', () => tar([{ name: 'f', prefix: '../up' }]), /path traversal/],
    [
      'a bad header checksum',
      () => tar([{ name: 'a', content: 'x', patch: (b) => b.set([0x39], 0), keepChecksum: true }]),
      /header checksum mismatch/,
    ],
    [
      'not a number in the size field',
      () => tar([{ name: 'a', patch: (b) => b.set([0x39], 124) }]),
      /bad size field/,
    ],
    [
      'a negative base-256 size',
      () => tar([{ name: 'a', patch: (b) => b.fill(0xff, 124, 136) }]),
      /negative/,
    ],
    [
      'an extension header claiming 100 MiB',
      () => tar([{ name: 'p', type: 'x', size: 100 * 1024 * 1024 }]),
      /extension header of 104857600 bytes is too large/,
    ],
    [
      'endless pax headers',
      () =>
        tar(
          Array.from(
            { length: 1000 },
            (): TarMember => ({ name: 'p', type: 'x', content: paxRecords({ a: 'b' }) }),
          ),
        ),
      /too many extension headers in a row/,
    ],
    [
      'endless GNU long names',
      () =>
        tar(
          Array.from(
            { length: 1000 },
            (): TarMember => ({ name: '././@LongLink', type: 'L', content: 'n\0' }),
          ),
        ),
      /too many extension headers in a row/,
    ],
    [
      'a malformed pax record',
      () => tar([{ name: 'p', type: 'x', content: '99 path=x\n' }, { name: 'a' }]),
      /malformed pax/,
    ],
    [
      'a pax size that is not a number',
      () => tar([{ name: 'p', type: 'x', content: paxRecords({ size: '-1' }) }, { name: 'a' }]),
      /malformed pax/,
    ],
    [
      'GNU sparse members',
      () => tar([{ name: 'p', type: 'x', content: paxRecords({ 'GNU.sparse.major': '1' }) }, { name: 'a' }]),
      /sparse/,
    ],
    [
      'truncated inside a header',
      () => tar([{ name: 'a', content: 'x' }]).subarray(0, 300),
      /unexpected end of data/,
    ],
    [
      'truncated inside a body',
      () => tar([{ name: 'a', content: random }]).subarray(0, 40_000),
      /unexpected end of data/,
    ],
    [
      'truncated inside the padding',
      () => tar([{ name: 'a', content: 'x' }], false).subarray(0, 600),
      /unexpected end of data/,
    ],
    [
      'a damaged end-of-archive marker',
      () => Buffer.concat([tar([{ name: 'a' }], false), new Uint8Array(512), new Uint8Array(512).fill(1)]),
      /damaged end-of-archive marker/,
    ],
  ]
  for (const [what, build, message] of cases) {
    test(what, async () => {
      const err = await failure(build())
      expect(err.message).toMatch(message)
      expect(err.message.startsWith('test.tar: ')).toBe(true)
      expect(asApiError(err)?.status).toBe(400)
    })
  }

  test('a tar body that is consumed twice from a stale handle cannot desynchronise the reader', async () => {
    const reader = new TarReader(
      new ChunkReader(
        chunked(
          tar([
            { name: 'a', content: 'aa' },
            { name: 'b', content: 'bb' },
          ]),
          1,
        ),
        't',
      ),
    )
    const a = await reader.next()
    const iterator = a!.body[Symbol.asyncIterator]()
    await iterator.next()
    const b = await reader.next()
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(b?.name).toBe('b')
  })
})
