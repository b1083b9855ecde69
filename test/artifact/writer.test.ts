import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArtifactError } from '../../src/artifact/errors.ts'
import { readArtifact } from '../../src/artifact/reader.ts'
import {
  fileFromBytes,
  fileFromPath,
  type PayloadFile,
  singleFilePayload,
  writeModuleImage,
} from '../../src/artifact/writer.ts'
import { asApiError } from '../../src/gateway/errors.ts'
import { sha256 } from '../helpers/artifact-builder.ts'
import { menderArtifact, readArtifactWithTool, run, toolTimeToIso } from '../helpers/mender-tools.ts'
import { splitTar } from '../helpers/tar.ts'

let dir: string
const path = (name: string) => join(dir, name)
const date = new Date('2024-05-06T07:08:09.000Z')

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bender-artifact-writer-'))
  writeFileSync(path('firmware.bin'), crypto.getRandomValues(new Uint8Array(5 * 1024 * 1024 + 3)))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('module-image artifacts it writes', () => {
  test('mender-artifact reads and validates them, and so does our reader', async () => {
    const out = path('full.mender')
    const size = await writeModuleImage(
      {
        name: 'generated-1',
        deviceTypes: ['dev-a', 'dev-b'],
        type: 'single-file',
        files: singleFilePayload(fileFromPath(path('firmware.bin')), '/opt/firmware', '600'),
        metaData: { vendor: 'acme', nested: { n: 1 } },
        provides: { 'firmware.version': '1.2.3' },
        depends: { 'board.rev': ['a', 'b'] },
        clearsProvides: ['firmware.*'],
        date,
      },
      out,
    )
    expect(size).toBe(statSync(out).size)
    menderArtifact(['validate', out])

    const tool = readArtifactWithTool(out)
    expect(tool).toMatchObject({
      name: 'generated-1',
      format: 'mender',
      version: 3,
      signature: 'no signature',
    })
    expect(tool.devices).toEqual(['dev-a', 'dev-b'])
    expect(tool.updates).toHaveLength(1)
    const update = tool.updates[0]!
    expect(update.type).toBe('single-file')
    expect(update.provides).toEqual({
      'firmware.version': '1.2.3',
      'rootfs-image.single-file.version': 'generated-1',
    })
    expect(update.depends).toEqual({ 'board.rev': '[a b]' })
    expect(update.clears).toBe('["firmware.*"]')
    expect(update.metadata).toEqual({ vendor: 'acme', nested: { n: 1 } })
    const firmware = readFileSync(path('firmware.bin'))
    const expected = [
      { name: 'dest_dir', checksum: sha256('/opt/firmware\n'), size: 14 },
      { name: 'filename', checksum: sha256('firmware.bin\n'), size: 13 },
      { name: 'firmware.bin', checksum: sha256(firmware), size: firmware.byteLength },
      { name: 'permissions', checksum: sha256('600\n'), size: 4 },
    ]
    expect(update.files.map(({ name, checksum, size }) => ({ name, checksum, size }))).toEqual(expected)
    for (const file of update.files) expect(toolTimeToIso(file.modified)).toBe(date.toISOString())

    const meta = await readArtifact(Bun.file(out).stream())
    expect(meta).toEqual({
      name: 'generated-1',
      device_types_compatible: ['dev-a', 'dev-b'],
      info: { format: 'mender', version: 3 },
      signed: false,
      updates: [
        {
          type_info: { type: 'single-file' },
          files: expected.map((f) => ({ ...f, date: date.toISOString() })),
          metadata: { vendor: 'acme', nested: { n: 1 } },
        },
      ],
      artifact_provides: {
        artifact_name: 'generated-1',
        'rootfs-image.single-file.version': 'generated-1',
        'firmware.version': '1.2.3',
      },
      artifact_depends: { device_type: ['dev-a', 'dev-b'], 'board.rev': ['a', 'b'] },
      clears_artifact_provides: ['firmware.*'],
      size,
    })
    expect(splitTar(readFileSync(out)).map((m) => m.name)).toEqual([
      'version',
      'manifest',
      'header.tar.gz',
      'data/0000.tar.gz',
    ])
  })

  test('defaults: software version provide and clears; no meta-data, depends or files', async () => {
    const out = path('empty.mender')
    await writeModuleImage({ name: 'bare', deviceTypes: ['dev-a'], type: 'script', files: [] }, out)
    menderArtifact(['validate', out])
    const meta = await readArtifact(Bun.file(out).stream())
    expect(meta.updates).toEqual([{ type_info: { type: 'script' }, files: [] }])
    expect(meta.artifact_provides).toEqual({ artifact_name: 'bare', 'rootfs-image.script.version': 'bare' })
    expect(meta.artifact_depends).toEqual({ device_type: ['dev-a'] })
    expect(meta.clears_artifact_provides).toEqual(['rootfs-image.script.*'])
  })

  test('file names longer than a ustar header holds', async () => {
    const name = `${'long-name.'.repeat(15)}bin`
    const out = path('long.mender')
    await writeModuleImage(
      { name: 'long', deviceTypes: ['dev-a'], type: 'single-file', files: [fileFromBytes(name, 'x')] },
      out,
    )
    expect(readArtifactWithTool(out).updates[0]?.files.map((f) => f.name)).toEqual([name])
    expect((await readArtifact(Bun.file(out).stream())).updates[0]?.files[0]?.name).toBe(name)
  })

  test('the real mender client installs a generated single-file artifact', async () => {
    const root = path('device')
    for (const sub of ['data', 'etc', 'dest']) mkdirSync(join(root, sub), { recursive: true })
    writeFileSync(join(root, 'mender.conf'), JSON.stringify({ ServerURL: 'https://127.0.0.1:1' }))
    writeFileSync(join(root, 'data', 'device_type'), 'device_type=dev-a\n')
    // The client falls back to /etc/mender/artifact_info before its first install: give it one in a
    // private mount namespace rather than touching the machine's /etc.
    writeFileSync(join(root, 'etc', 'artifact_info'), 'artifact_name=factory\n')
    writeFileSync(path('hello.conf'), 'greeting = hello\n')
    const out = path('install.mender')
    await writeModuleImage(
      {
        name: 'install-1',
        deviceTypes: ['dev-a'],
        type: 'single-file',
        files: singleFilePayload(fileFromPath(path('hello.conf')), join(root, 'dest'), '640'),
      },
      out,
    )
    const mender = `mender --config ${root}/mender.conf --fallback-config ${root}/none.conf --data ${root}/data --no-syslog`
    const script = [
      `mount --bind ${root}/etc /etc/mender`,
      `${mender} install ${out}`,
      `${mender} commit`,
      `${mender} show-artifact`,
      `${mender} show-provides`,
    ].join(' && ')
    const output = run(['unshare', '--mount', 'sh', '-c', script])
    expect(output).toContain('install-1\n')
    expect(output).toContain('rootfs-image.single-file.version=install-1')
    expect(readFileSync(join(root, 'dest', 'hello.conf'), 'utf8')).toBe('greeting = hello\n')
    expect(statSync(join(root, 'dest', 'hello.conf')).mode & 0o777).toBe(0o640)
  })
})

describe('refusals', () => {
  const base = { name: 'x', deviceTypes: ['d'], type: 'single-file', files: [] as PayloadFile[] }
  const cases: [string, Parameters<typeof writeModuleImage>[0], RegExp][] = [
    ['no name', { ...base, name: ' ' }, /needs a name/],
    ['no device type', { ...base, deviceTypes: [] }, /at least one device type/],
    ['a type with a slash', { ...base, type: 'a/b' }, /invalid payload type/],
    ['a file name with a slash', { ...base, files: [fileFromBytes('a/b', 'x')] }, /only letters, digits/],
    [
      'a file given twice',
      { ...base, files: [fileFromBytes('a', 'x'), fileFromBytes('a', 'y')] },
      /given twice/,
    ],
    [
      'a payload provide of artifact_name',
      { ...base, provides: { artifact_name: 'y' } },
      /artifact_name cannot be set/,
    ],
    [
      'a payload depend on device_type',
      { ...base, depends: { device_type: 'y' } },
      /device_type cannot be set/,
    ],
  ]
  for (const [what, spec, message] of cases) {
    test(what, async () => {
      const out = path(`refused-${what.replaceAll(' ', '-')}.mender`)
      const err = await writeModuleImage(spec, out).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ArtifactError)
      expect(asApiError(err)?.status).toBe(400)
      expect((err as Error).message).toMatch(message)
      expect(existsSync(out)).toBe(false)
    })
  }

  test('single-file needs an absolute destination and an octal mode', () => {
    expect(() => singleFilePayload(fileFromBytes('a', 'x'), 'relative/dir')).toThrow(/absolute path/)
    expect(() => singleFilePayload(fileFromBytes('a', 'x'), '/abs', 'rwx')).toThrow(/octal mode/)
  })

  test('a file that is not as long as it said leaves no artifact behind', async () => {
    const out = path('short.mender')
    const liar: PayloadFile = { ...fileFromBytes('liar.bin', 'four'), size: 10 }
    await expect(writeModuleImage({ ...base, files: [liar] }, out)).rejects.toThrow(/is not 10 bytes long/)
    expect(existsSync(out)).toBe(false)
  })
})
