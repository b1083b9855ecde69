import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArtifactError } from '../../src/artifact/errors.ts'
import { readArtifact } from '../../src/artifact/reader.ts'
import { asApiError } from '../../src/gateway/errors.ts'
import { buildArtifact, chunked, compress, type FixtureOptions, sha256 } from '../helpers/artifact-builder.ts'
import { menderArtifact } from '../helpers/mender-tools.ts'
import { paxRecords, splitTar, type TarMember, tar } from '../helpers/tar.ts'

async function rejection(bytes: Uint8Array): Promise<ArtifactError> {
  const err = await readArtifact(chunked(bytes, 4096)).then(
    (meta) => new Error(`accepted: ${JSON.stringify(meta).slice(0, 200)}`),
    (e: unknown) => e,
  )
  if (!(err instanceof ArtifactError)) throw err
  expect(asApiError(err)?.status).toBe(400)
  return err
}

const replaceLine = (lines: string[], path: string, line: string) =>
  lines.map((l) => (l.endsWith(`  ${path}`) ? line : l))
const dropLine = (lines: string[], path: string) => lines.filter((l) => !l.endsWith(`  ${path}`))
const bigPayload = crypto.getRandomValues(new Uint8Array(100_000))

test('the fixture builder makes artifacts the reader accepts, so every case below breaks one thing', async () => {
  const meta = await readArtifact(chunked(buildArtifact(), 100))
  expect(meta.name).toBe('fixture-1')
  const two = await readArtifact(
    chunked(
      buildArtifact({
        compression: 'zstd',
        signed: true,
        payloads: [
          { type: 'single-file', files: { 'a.bin': bigPayload }, metaData: { k: 1 } },
          { type: 'other', files: { 'b.bin': 'b' } },
        ],
      }),
      100,
    ),
  )
  expect(two.updates.map((u) => u.type_info.type)).toEqual(['single-file', 'other'])
  expect(two.updates[0]?.files[0]?.checksum).toBe(sha256(bigPayload))
  expect(two.signed).toBe(true)
})

describe('truncated files', () => {
  const whole = buildArtifact({ payloads: [{ type: 'single-file', files: { 'payload.bin': bigPayload } }] })
  // Every cut but the one right after the last member (a clean end, which Go's reader also accepts).
  const cuts = [
    1,
    100,
    511,
    512,
    1000,
    1536,
    2048,
    2600,
    ...Array.from({ length: 9 }, (_, k) => Math.floor((whole.byteLength * (k + 1)) / 10)),
  ]
  for (const cut of cuts) {
    test(`cut after ${cut} of ${whole.byteLength} bytes`, async () => {
      const err = await rejection(whole.subarray(0, cut))
      expect(err.message).toMatch(/unexpected end of data|is missing|truncated|invalid gzip data/)
    })
  }
  test('an empty file', async () => {
    expect((await rejection(new Uint8Array(0))).message).toBe('not a Mender artifact: the file is empty')
  })
})

describe('not an artifact', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'random bytes',
      crypto.getRandomValues(new Uint8Array(5000)),
      /^not a Mender artifact \(not a tar archive \(header checksum mismatch\)\)$/,
    ],
    [
      'a JSON file',
      new TextEncoder().encode(`${JSON.stringify({ format: 'mender' })}\n`.repeat(50)),
      /not a tar archive/,
    ],
    ['a gzip file', Bun.gzipSync(crypto.getRandomValues(new Uint8Array(4096))), /not a tar archive/],
    [
      'less than one tar block',
      new TextEncoder().encode('hello'),
      /^not a Mender artifact \(unexpected end of data\)$/,
    ],
    [
      'a tar of something else',
      tar([{ name: 'hello.txt', content: 'hi' }]),
      /the first member is hello.txt, expected version/,
    ],
  ]
  for (const [what, bytes, message] of cases) {
    test(what, async () => expect((await rejection(bytes)).message).toMatch(message))
  }
})

describe('version', () => {
  const cases: [string, FixtureOptions, RegExp][] = [
    ['format version 1', { version: '{"format":"mender","version":1}' }, /version 1 is no longer supported/],
    [
      'format version 4',
      { version: '{"format":"mender","version":4}' },
      /unsupported artifact format version: 4/,
    ],
    ['another format', { version: '{"format":"other","version":3}' }, /not a Mender artifact/],
    ['not JSON', { version: 'version 3' }, /version: invalid JSON/],
    ['an unknown field', { version: '{"format":"mender","version":3,"x":1}' }, /unknown field "x"/],
  ]
  for (const [what, options, message] of cases) {
    test(what, async () => expect((await rejection(buildArtifact(options))).message).toMatch(message))
  }
})

describe('member order', () => {
  const move = (from: number, to: number) => (members: TarMember[]) => {
    const copy = [...members]
    const [moved] = copy.splice(from, 1)
    copy.splice(to, 0, moved!)
    return copy
  }
  const cases: [string, FixtureOptions, RegExp][] = [
    ['manifest before version', { outer: move(1, 0) }, /the first member is manifest, expected version/],
    ['header before manifest', { outer: move(2, 1) }, /expected manifest, found header.tar.gz/],
    [
      'data before header',
      { outer: move(3, 2) },
      /expected header.tar\[.gz\|.xz\|.zst\], found data\/0000.tar.gz/,
    ],
    ['manifest.sig after the header', { signed: true, outer: move(2, 3) }, /unexpected member manifest.sig/],
    [
      'the header twice',
      { outer: (m) => [...m.slice(0, 3), m[2]!, ...m.slice(3)] },
      /unexpected member header.tar.gz/,
    ],
    [
      'header-augment without manifest-augment',
      { outer: (m) => [...m.slice(0, 3), { ...m[2]!, name: 'header-augment.tar.gz' }, ...m.slice(3)] },
      /unexpected member header-augment.tar.gz/,
    ],
    [
      'manifest-augment without header-augment',
      { outer: (m) => [...m.slice(0, 2), { name: 'manifest-augment', content: '' }, ...m.slice(2)] },
      /expected header-augment.tar\[.gz\|.xz\|.zst\], found data\/0000.tar.gz/,
    ],
    [
      'payload data out of order',
      {
        payloads: [
          { type: 'a', files: { 'a.bin': 'a' } },
          { type: 'b', files: { 'b.bin': 'b' } },
        ],
        outer: move(4, 3),
      },
      /data\/0000.tar.gz: payload data out of order/,
    ],
    [
      'a directory where the manifest should be',
      { outer: (m) => [m[0]!, { ...m[1]!, type: '5' }, ...m.slice(2)] },
      /expected manifest/,
    ],
  ]
  for (const [what, options, message] of cases) {
    test(what, async () => expect((await rejection(buildArtifact(options))).message).toMatch(message))
  }
})

describe('checksums and the manifest', () => {
  const other = sha256('something else')
  const cases: [string, FixtureOptions, RegExp][] = [
    [
      'a payload file that does not match',
      { manifest: (l) => replaceLine(l, 'data/0000/payload.bin', `${other}  data/0000/payload.bin`) },
      new RegExp(
        `invalid checksum for data/0000/payload.bin: expected ${other}, actual ${sha256('hello payload\n')}`,
      ),
    ],
    [
      'a changed version',
      {
        version: '{"format":"mender", "version":3}',
        manifest: (l) => replaceLine(l, 'version', `${sha256('{"format":"mender","version":3}')}  version`),
      },
      /invalid checksum for version/,
    ],
    [
      'a changed header',
      { manifest: (l) => replaceLine(l, 'header.tar.gz', `${other}  header.tar.gz`) },
      /invalid checksum for header.tar.gz/,
    ],
    [
      'a payload file missing from the manifest',
      { manifest: (l) => dropLine(l, 'data/0000/payload.bin') },
      /no checksum for data\/0000\/payload.bin/,
    ],
    [
      'the header missing from the manifest',
      { manifest: (l) => dropLine(l, 'header.tar.gz') },
      /no checksum for header.tar.gz/,
    ],
    [
      'version missing from the manifest',
      { manifest: (l) => dropLine(l, 'version') },
      /no checksum for version/,
    ],
    [
      'an extra file in the payload',
      { dataMembers: (_, m) => [...m, { name: 'extra.bin', content: 'extra' }] },
      /no checksum for data\/0000\/extra.bin/,
    ],
    [
      'the same file twice in the payload',
      { dataMembers: (_, m) => [...m, ...m] },
      /data\/0000\/payload.bin appears twice/,
    ],
    [
      'a listed file missing from the payload',
      { manifest: (l) => [...l, `${other}  data/0000/gone.bin`] },
      /files listed in the manifest are missing from the artifact: data\/0000\/gone.bin/,
    ],
    [
      'a listed member missing from the artifact',
      { manifest: (l) => [...l, `${other}  something`] },
      /missing from the artifact: something/,
    ],
    [
      'a file listed for a payload that does not exist',
      { manifest: (l) => [...l, `${other}  data/0003/x`] },
      /data\/0003\/x belongs to no payload/,
    ],
    [
      'a malformed payload path',
      { manifest: (l) => [...l, `${other}  data/0000/a/b`] },
      /malformed payload entry/,
    ],
    ['a line listed twice', { manifest: (l) => [...l, l[0]!] }, /version is listed twice/],
    [
      'upper-case hex',
      { manifest: (l) => l.map((x) => x.replace(/^\w+/, (h) => h.toUpperCase())) },
      /manifest: malformed line/,
    ],
    [
      'one space instead of two',
      { manifest: (l) => l.map((x) => x.replace('  ', ' ')) },
      /manifest: malformed line/,
    ],
    [
      'an extra member after the payloads',
      { outer: (m) => [...m, { name: 'junk', content: 'junk' }] },
      /wrong artifact structure: unexpected member junk/,
    ],
    [
      'data for a payload the header does not declare',
      { outer: (m) => [...m, { ...m[3]!, name: 'data/0001.tar.gz' }] },
      /data\/0001.tar.gz: the header declares only 1 payload/,
    ],
  ]
  for (const [what, options, message] of cases) {
    test(what, async () => expect((await rejection(buildArtifact(options))).message).toMatch(message))
  }
})

describe('names inside the tars', () => {
  const cases: [string, FixtureOptions, RegExp][] = [
    [
      '.. in the outer tar',
      { outer: (m) => [{ ...m[0]!, name: '../version' }, ...m.slice(1)] },
      /path traversal in tar member: ..\/version/,
    ],
    [
      'an absolute outer member',
      { outer: (m) => [{ ...m[0]!, name: '/version' }, ...m.slice(1)] },
      /absolute path in tar member/,
    ],
    [
      '.. in the header tar',
      { headerMembers: (m) => [...m, { name: '../../etc/cron.d/evil', content: 'x' }] },
      /header.tar.gz: path traversal in tar member: ..\/..\/etc\/cron.d\/evil/,
    ],
    [
      '.. in the payload tar',
      { dataMembers: (_, m) => m.map((f) => ({ ...f, name: `../../${f.name}` })) },
      /data\/0000.tar.gz: path traversal in tar member/,
    ],
    [
      'an absolute payload file',
      { dataMembers: (_, m) => m.map((f) => ({ ...f, name: '/etc/passwd' })) },
      /data\/0000.tar.gz: absolute path in tar member: \/etc\/passwd/,
    ],
    [
      'a payload file in a subdirectory',
      { dataMembers: (_, m) => m.map((f) => ({ ...f, name: `sub/${f.name}` })) },
      /forbidden characters/,
    ],
    [
      'a payload file with a space in its name',
      { payloads: [{ type: 'single-file', files: { 'bad name.bin': 'x' } }] },
      /payload file name bad name.bin contains forbidden characters/,
    ],
    [
      'a symlink in the payload',
      { dataMembers: (_, m) => m.map((f) => ({ ...f, type: '2', content: '' })) },
      /payload.bin is not a regular file/,
    ],
  ]
  for (const [what, options, message] of cases) {
    test(what, async () => expect((await rejection(buildArtifact(options))).message).toMatch(message))
  }
})

describe('oversized and endless headers', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'a 2 MiB manifest',
      () =>
        buildArtifact({
          manifest: (l) => [...l, ...Array.from({ length: 30_000 }, (_, i) => `${sha256(String(i))}  x${i}`)],
        }),
      /manifest is larger than 1048576 bytes/,
    ],
    [
      'a 10 KiB version',
      () => buildArtifact({ version: `{"format":"mender","version":3${' '.repeat(10_000)}}` }),
      /version is larger than 4096 bytes/,
    ],
    [
      'a 1 MiB signature',
      () =>
        buildArtifact({
          signed: true,
          outer: (m) =>
            m.map((x) => (x.name === 'manifest.sig' ? { ...x, content: 'A'.repeat(1 << 20) } : x)),
        }),
      /manifest.sig is larger than 65536 bytes/,
    ],
    [
      'endless pax headers before the first member',
      () =>
        Buffer.concat([
          tar(
            Array.from(
              { length: 500 },
              (): TarMember => ({ name: 'p', type: 'x', content: paxRecords({ a: 'b' }) }),
            ),
            false,
          ),
          buildArtifact(),
        ]),
      /too many extension headers in a row/,
    ],
    [
      'a header member claiming to be huge',
      () => buildArtifact({ headerMembers: (m) => [{ ...m[0]!, size: 1 << 30 }] }),
      /header-info is larger than 8388608 bytes/,
    ],
  ]
  for (const [what, build, message] of cases) {
    test(what, async () => expect((await rejection(build())).message).toMatch(message))
  }

  for (const compression of ['gzip', 'zstd'] as const) {
    test(`a ${compression} compression bomb in the header stops at the cap`, async () => {
      const bomb: TarMember = {
        name: 'scripts/ArtifactInstall_Enter_00',
        content: new Uint8Array(64 * 1024 * 1024),
      }
      const bytes = buildArtifact({ compression, headerMembers: (m) => [m[0]!, bomb, ...m.slice(1)] })
      expect(bytes.byteLength).toBeLessThan(1024 * 1024)
      const err = await rejection(bytes)
      expect(err.message).toBe(
        `header.tar.${compression === 'gzip' ? 'gz' : 'zst'}: the header inflates to more than 8388608 bytes`,
      )
    })
  }
})

describe('header documents', () => {
  const headerInfo = (doc: object) => ({ headerInfo: doc })
  const base = {
    payloads: [{ type: 'single-file' }],
    artifact_provides: { artifact_name: 'n' },
    artifact_depends: { device_type: ['d'] },
  }
  const cases: [string, FixtureOptions, RegExp][] = [
    [
      'type-info provides artifact_name again',
      {
        payloads: [
          {
            type: 'single-file',
            typeInfo: { type: 'single-file', artifact_provides: { artifact_name: 'x' } },
          },
        ],
      },
      /conflicting keys are not allowed in artifact provides: artifact_name/,
    ],
    [
      'type-info depends on device_type again',
      {
        payloads: [
          {
            type: 'single-file',
            typeInfo: { type: 'single-file', artifact_depends: { device_type: ['x'] } },
          },
        ],
      },
      /conflicting keys are not allowed in artifact depends: device_type/,
    ],
    [
      'two payloads provide the same key',
      {
        payloads: [
          { type: 'a', typeInfo: { type: 'a', artifact_provides: { k: '1' } } },
          { type: 'b', typeInfo: { type: 'b', artifact_provides: { k: '2' } } },
        ],
      },
      /conflicting keys are not allowed in artifact provides: k/,
    ],
    [
      'a provide that is not a string',
      { payloads: [{ type: 'a', typeInfo: { type: 'a', artifact_provides: { k: 1 } } }] },
      /artifact_provides.k must be a string/,
    ],
    [
      'type-info disagrees with header-info',
      { payloads: [{ type: 'single-file', typeInfo: { type: 'rootfs-image' } }] },
      /does not match header-info/,
    ],
    [
      'type-info missing',
      { headerMembers: (m) => m.filter((x) => !x.name.endsWith('type-info')) },
      /headers\/0000\/type-info is missing/,
    ],
    ['type-info twice', { headerMembers: (m) => [...m, m[1]!] }, /type-info appears twice/],
    [
      'meta-data twice, the first one empty',
      { payloads: [{ type: 'a', metaData: '' }], headerMembers: (m) => [...m, m[2]!] },
      /meta-data appears twice/,
    ],
    [
      'header-info not first',
      { headerMembers: (m) => [...m.slice(1), m[0]!] },
      /the first member must be header-info/,
    ],
    [
      'an unknown header file',
      { headerMembers: (m) => [...m, { name: 'headers/0000/evil', content: '{}' }] },
      /unsupported header file headers\/0000\/evil/,
    ],
    [
      'a header for a payload that does not exist',
      { headerMembers: (m) => [...m, { name: 'headers/0001/type-info', content: '{}' }] },
      /headers\/0001\/type-info belongs to no payload/,
    ],
    [
      'a stray member in the header',
      { headerMembers: (m) => [...m, { name: 'stray', content: '' }] },
      /unexpected member stray/,
    ],
    [
      'files in a version 3 header',
      { headerMembers: (m) => [...m, { name: 'headers/0000/files', content: '{"files":[]}' }] },
      /not allowed in a version 3 artifact/,
    ],
    [
      'meta-data that is a list',
      { payloads: [{ type: 'a', metaData: '[1,2]' }] },
      /the top level of meta-data must be a JSON object/,
    ],
    [
      'meta-data that is not JSON',
      { payloads: [{ type: 'a', metaData: '{nope' }] },
      /meta-data: invalid JSON/,
    ],
    ['an unknown header-info field', headerInfo({ ...base, extra: 1 }), /header-info: unknown field "extra"/],
    ['no payloads', headerInfo({ ...base, payloads: [] }), /no payloads/],
    [
      'an empty payload type',
      headerInfo({ ...base, payloads: [{ type: '' }] }),
      /unexpected empty payload type/,
    ],
    ['no artifact name', headerInfo({ ...base, artifact_provides: {} }), /artifact_name: required/],
    [
      'no device type',
      headerInfo({ ...base, artifact_depends: { device_type: [] } }),
      /device_type: at least one is required/,
    ],
    [
      'no artifact_depends',
      headerInfo({ payloads: base.payloads, artifact_provides: base.artifact_provides }),
      /artifact_depends: expected a JSON object/,
    ],
    [
      'a 300-byte name',
      headerInfo({ ...base, artifact_provides: { artifact_name: 'n'.repeat(300) } }),
      /longer than 256 bytes/,
    ],
    [
      'a control character in a device type',
      headerInfo({ ...base, artifact_depends: { device_type: ['a\u0007'] } }),
      /non-printable/,
    ],
    ['header-info that is not JSON', { headerInfo: 'nope' }, /header-info: invalid JSON/],
    [
      'a version 2 header-info in a version 3 artifact',
      { headerInfo: { artifact_name: 'n', updates: [], device_types_compatible: ['d'] } },
      /unknown field "artifact_name"/,
    ],
  ]
  for (const [what, options, message] of cases) {
    test(what, async () => expect((await rejection(buildArtifact(options))).message).toMatch(message))
  }
})

describe('the shared xz decoder survives failures', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bender-artifact-xz-'))
    writeFileSync(join(dir, 'payload.bin'), crypto.getRandomValues(new Uint8Array(300_000)))
    menderArtifact([
      'write',
      'module-image',
      '-n',
      'xz-art',
      '-t',
      'dev-a',
      '-T',
      'single-file',
      '-f',
      join(dir, 'payload.bin'),
      '--compression',
      'lzma',
      '-o',
      join(dir, 'xz.mender'),
    ])
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const good = () => Bun.file(join(dir, 'xz.mender')).bytes()

  test('damaged, truncated and wrongly hashed xz payloads fail; good ones still read, also concurrently', async () => {
    const bytes = await good()
    const members = splitTar(bytes)
    const data = members.find((m) => m.name === 'data/0000.tar.xz')!
    const damaged = data.content.slice()
    damaged[Math.floor(damaged.byteLength / 2)]! ^= 0xff
    const rebuild = (content: Uint8Array) => tar(members.map((m) => (m === data ? { ...m, content } : m)))

    expect((await rejection(rebuild(damaged))).message).toMatch(
      /data\/0000.tar.xz: invalid xz data \(corrupt data\)|invalid checksum/,
    )
    expect((await rejection(rebuild(data.content.subarray(0, 1000)))).message).toMatch(
      /data\/0000.tar.xz: invalid xz data/,
    )
    const manifest = members.find((m) => m.name === 'manifest')!
    const wrongSum = new TextDecoder().decode(manifest.content).replace(/^\w+(?= {2}data)/m, sha256('x'))
    const wrongHash = tar(members.map((m) => (m === manifest ? { ...m, content: wrongSum } : m)))
    expect((await rejection(wrongHash)).message).toMatch(/invalid checksum for data\/0000\/payload.bin/)

    const results = await Promise.all([
      readArtifact(chunked(bytes, 1000)),
      readArtifact(chunked(bytes, 3000)),
    ])
    expect(results.map((r) => r.name)).toEqual(['xz-art', 'xz-art'])
  })

  test('a header that is not xz at all is refused', async () => {
    const members = splitTar(await good())
    const header = members.find((m) => m.name === 'header.tar.xz')!
    const fake = compress(new Uint8Array(1024), 'gzip')
    const manifest = members.find((m) => m.name === 'manifest')!
    const text = new TextDecoder().decode(manifest.content).replace(/^\w+(?= {2}header)/m, sha256(fake))
    const bytes = tar(
      members.map((m) =>
        m === header ? { ...m, content: fake } : m === manifest ? { ...m, content: text } : m,
      ),
    )
    expect((await rejection(bytes)).message).toBe('header.tar.xz: invalid xz data (not in xz format)')
    expect((await readArtifact(chunked(await good(), 5000))).name).toBe('xz-art')
  })
})

describe('augmented headers', () => {
  /** The default fixture with a header-augment made of `members` after a header-info of `types`. */
  function augmented(
    types: (string | null)[],
    members: TarMember[],
    options: FixtureOptions = {},
  ): Uint8Array {
    const headerInfo = {
      payloads: types.map((type) => ({ type })),
      artifact_provides: { artifact_name: 'x' },
    }
    const header = compress(
      tar([{ name: 'header-info', content: JSON.stringify(headerInfo) }, ...members]),
      'gzip',
    )
    return buildArtifact({
      ...options,
      outer: (m) => [
        m[0]!,
        m[1]!,
        { name: 'manifest-augment', content: `${sha256(header)}  header-augment.tar.gz\n` },
        m[2]!,
        { name: 'header-augment.tar.gz', content: header },
        ...m.slice(3),
      ],
    })
  }
  const typeInfo = (doc: object): TarMember => ({
    name: 'headers/0000/type-info',
    content: JSON.stringify(doc),
  })
  const metaData = (doc: object): TarMember => ({
    name: 'headers/0000/meta-data',
    content: JSON.stringify(doc),
  })
  const withMeta = { payloads: [{ type: 'single-file', metaData: { a: { b: 1 } }, files: { 'p.bin': 'p' } }] }

  test('an augment overrides provides, depends and meta-data of its payload', async () => {
    const meta = await readArtifact(
      chunked(
        augmented(
          ['single-file'],
          [
            typeInfo({
              type: 'single-file',
              artifact_provides: { k: 'v' },
              artifact_depends: { d: 'x' },
              clears_artifact_provides: ['k'],
            }),
            metaData({ a: { c: 2 } }),
          ],
          withMeta,
        ),
        999,
      ),
    )
    expect(meta.artifact_provides).toEqual({ artifact_name: 'fixture-1', k: 'v' })
    expect(meta.artifact_depends).toEqual({ device_type: ['dev-a'], d: 'x' })
    expect(meta.clears_artifact_provides).toEqual(['k'])
    expect(meta.updates[0]?.metadata).toEqual({ a: { b: 1, c: 2 } })
  })

  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'another payload type',
      () => augmented(['other'], [typeInfo({ type: 'other' })]),
      /type other differs from the original single-file/,
    ],
    [
      'more payloads than the header',
      () => augmented(['single-file', 'single-file'], []),
      /more payloads than the header declares/,
    ],
    [
      'an empty payload',
      () => augmented(['x'], [], { payloads: [{ type: null }] }),
      /an empty payload cannot be augmented/,
    ],
    [
      'an object replaced by a scalar',
      () => augmented(['single-file'], [metaData({ a: 1 })], withMeta),
      /type conflict at a/,
    ],
    [
      'a state script',
      () => augmented(['single-file'], [{ name: 'scripts/ArtifactInstall_Enter_00', content: '' }]),
      /unexpected member scripts/,
    ],
    [
      'an unknown file',
      () => augmented(['single-file'], [{ name: 'headers/0000/files', content: '{}' }]),
      /unexpected header file headers\/0000\/files/,
    ],
  ]
  for (const [what, build, message] of cases) {
    test(what, async () => expect((await rejection(build())).message).toMatch(message))
  }
})

describe('names that are Object.prototype keys', () => {
  test.each(['constructor', '__proto__', 'toString'])(
    'an outer member data/0000.tar%s is refused',
    async (suffix) => {
      const bytes = buildArtifact({
        compression: 'none',
        outer: (members) =>
          members.map((m) => (m.name === 'data/0000.tar' ? { ...m, name: `data/0000.tar${suffix}` } : m)),
      })
      expect((await rejection(bytes)).message).toBe(
        `wrong artifact structure: unexpected member data/0000.tar${suffix}`,
      )
    },
  )

  test('a provides key named __proto__ is kept as a key', async () => {
    const meta = await readArtifact(
      chunked(
        buildArtifact({
          payloads: [
            {
              type: 'single-file',
              typeInfo: JSON.parse('{"type":"single-file","artifact_provides":{"__proto__":"x"}}'),
              files: { 'a.bin': 'a' },
            },
          ],
        }),
        4096,
      ),
    )
    expect(Object.hasOwn(meta.artifact_provides!, '__proto__')).toBe(true)
  })
})
