import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ArtifactTooLargeError } from '../../src/artifact/errors.ts'
import { type ArtifactMeta, readArtifact } from '../../src/artifact/reader.ts'
import { asApiError } from '../../src/gateway/errors.ts'
import { chunked, compress, sha256 } from '../helpers/artifact-builder.ts'
import {
  menderArtifact,
  type ReadOutput,
  readArtifactWithTool,
  run,
  toolTimeToIso,
} from '../helpers/mender-tools.ts'
import { splitTar, tar } from '../helpers/tar.ts'

let dir: string
const path = (name: string) => join(dir, name)
const bytesOf = async (name: string) => new Uint8Array(await Bun.file(path(name)).arrayBuffer())
const read = (name: string) => readArtifact(Bun.file(path(name)).stream())

const metaData = { vendor: 'acme', nested: { list: [1, 2, 3], flag: true } }

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bender-artifact-reader-'))
  // Incompressible and bigger than any chunk, so payload hashing spans many reads.
  writeFileSync(path('big.bin'), crypto.getRandomValues(new Uint8Array(3 * 1024 * 1024 + 17)))
  writeFileSync(path('small.txt'), 'small file\n')
  writeFileSync(path('rootfs.ext4'), crypto.getRandomValues(new Uint8Array(200_000)))
  writeFileSync(path('meta.json'), JSON.stringify(metaData))
  writeFileSync(path('augment-meta.json'), JSON.stringify({ nested: { flag: false }, added: 'yes' }))
  writeFileSync(path('ArtifactInstall_Enter_00'), '#!/bin/sh\nexit 0\n')
  // mender-artifact 3.9 reads PKCS#1 RSA keys only.
  run(['openssl', 'genrsa', '-traditional', '-out', path('rsa.pem'), '2048'])
  run(['openssl', 'ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', path('ec.pem')])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A module-image with every field the server extracts set. */
function writeFullModuleImage(out: string, compression: string, extra: string[] = []): void {
  menderArtifact([
    'write',
    'module-image',
    '-n',
    'full-art',
    '-t',
    'dev-a',
    '-t',
    'dev-b',
    '-T',
    'single-file',
    '-f',
    path('big.bin'),
    '-f',
    path('small.txt'),
    '-m',
    path('meta.json'),
    '-p',
    'foo.bar:baz',
    '-d',
    'some.key:someval',
    '-N',
    'prev-art',
    '-g',
    'group-b',
    '-G',
    'group-a',
    '--compression',
    compression,
    '-o',
    path(out),
    ...extra,
  ])
}

/** Every file the reader reports agrees with what mender-artifact itself reads from the same file. */
function expectFilesMatchTool(meta: ArtifactMeta, tool: ReadOutput): void {
  expect(meta.updates.length).toBe(tool.updates.length)
  meta.updates.forEach((update, i) => {
    const toolFiles = tool.updates[i]?.files ?? []
    const sorted = [...update.files].sort((a, b) => a.name.localeCompare(b.name))
    expect(sorted).toEqual(
      [...toolFiles]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((f) => ({ name: f.name, checksum: f.checksum, size: f.size, date: toolTimeToIso(f.modified) })),
    )
  })
}

describe('artifacts written by mender-artifact 3.9', () => {
  for (const compression of ['none', 'gzip', 'lzma']) {
    test(`module-image, format 3, ${compression}: every field`, async () => {
      const file = `full-${compression}.mender`
      writeFullModuleImage(file, compression)
      const meta = await read(file)
      const tool = readArtifactWithTool(path(file))

      expect(meta.name).toBe('full-art')
      expect(meta.name).toBe(tool.name)
      expect(meta.device_types_compatible).toEqual(['dev-a', 'dev-b'])
      expect(meta.device_types_compatible).toEqual(tool.devices)
      expect(meta.info).toEqual({ format: 'mender', version: 3 })
      expect(meta.signed).toBe(false)
      expect(meta.artifact_provides).toEqual({
        artifact_name: 'full-art',
        artifact_group: 'group-b',
        'foo.bar': 'baz',
        'rootfs-image.single-file.version': 'full-art',
      })
      const toolProvides: Record<string, string> = {
        artifact_name: tool.name,
        artifact_group: tool.providesGroup,
        ...tool.updates[0]?.provides,
      }
      expect(toolProvides).toEqual(meta.artifact_provides ?? {})
      expect(meta.artifact_depends).toEqual({
        device_type: ['dev-a', 'dev-b'],
        artifact_name: ['prev-art'],
        artifact_group: ['group-a'],
        'some.key': 'someval',
      })
      expect(tool.updates[0]?.depends).toEqual({ 'some.key': 'someval' })
      expect(meta.clears_artifact_provides).toEqual(['rootfs-image.single-file.*'])
      expect(meta.size).toBe(Bun.file(path(file)).size)

      expect(meta.updates).toHaveLength(1)
      const update = meta.updates[0]!
      expect(update.type_info).toEqual({ type: 'single-file' })
      expect(update.metadata).toEqual(metaData)
      expect(update.metadata as unknown).toEqual(tool.updates[0]?.metadata)
      expect(update.files.map((f) => f.name)).toEqual(['big.bin', 'small.txt'])
      expect(update.files[0]?.checksum).toBe(sha256(await bytesOf('big.bin')))
      expect(update.files[0]?.size).toBe(3 * 1024 * 1024 + 17)
      expect(update.files[1]).toMatchObject({ checksum: sha256('small file\n'), size: 11 })
      expectFilesMatchTool(meta, tool)
    })
  }

  test('the same content reads the same whatever the compression, zstd included', async () => {
    writeFullModuleImage('same-none.mender', 'none')
    writeFullModuleImage('same-gzip.mender', 'gzip')
    writeFullModuleImage('same-lzma.mender', 'lzma')
    // mender-artifact 3.9 cannot write zstd: recompress the uncompressed artifact's tars instead.
    const members = splitTar(await bytesOf('same-none.mender'))
    const header = members.find((m) => m.name === 'header.tar')!
    const zstdHeader = compress(header.content, 'zstd')
    const rebuilt = members.map((m) => {
      if (m.name === 'manifest') {
        const text = new TextDecoder().decode(m.content)
        const manifest = text.replace(/^\w+ {2}header\.tar$/m, `${sha256(zstdHeader)}  header.tar.zst`)
        expect(manifest).not.toBe(text)
        return { ...m, content: manifest }
      }
      if (m.name === 'header.tar') return { ...m, name: 'header.tar.zst', content: zstdHeader }
      if (m.name === 'data/0000.tar')
        return { ...m, name: 'data/0000.tar.zst', content: compress(m.content, 'zstd') }
      return m
    })
    writeFileSync(path('same-zstd.mender'), tar(rebuilt))

    const results = await Promise.all(['none', 'gzip', 'lzma', 'zstd'].map((c) => read(`same-${c}.mender`)))
    const [none, ...others] = results.map(({ size: _, ...meta }) => meta)
    // The payload dates are the write times, which may differ by a second between the runs above.
    const undated = (meta: typeof none) => ({
      ...meta,
      updates: meta?.updates.map((u) => ({ ...u, files: u.files.map(({ date: _, ...f }) => f) })),
    })
    for (const other of others) expect(undated(other)).toEqual(undated(none))
    expect(none?.updates[0]?.files[0]?.checksum).toBe(sha256(await bytesOf('big.bin')))
  })

  test('rootfs-image, format 3: the type comes from header-info (type-info says "")', async () => {
    menderArtifact([
      'write',
      'rootfs-image',
      '-n',
      'rootfs-3',
      '-t',
      'dev-a',
      '-f',
      path('rootfs.ext4'),
      '-o',
      path('r3.mender'),
      '--no-progress',
    ])
    const headerTar = splitTar(await bytesOf('r3.mender')).find((m) => m.name === 'header.tar.gz')!
    const typeInfo = splitTar(Bun.gunzipSync(headerTar.content as Uint8Array<ArrayBuffer>)).find(
      (m) => m.name === 'headers/0000/type-info',
    )!
    expect(JSON.parse(new TextDecoder().decode(typeInfo.content)).type).toBe('')

    const meta = await read('r3.mender')
    const checksum = sha256(await bytesOf('rootfs.ext4'))
    expect(meta.updates[0]?.type_info.type).toBe('rootfs-image')
    expect(meta.artifact_provides).toEqual({
      artifact_name: 'rootfs-3',
      'rootfs-image.checksum': checksum,
      'rootfs-image.version': 'rootfs-3',
    })
    expect(meta.clears_artifact_provides).toEqual([
      'artifact_group',
      'rootfs_image_checksum',
      'rootfs-image.*',
    ])
    expect(meta.updates[0]?.metadata).toBeUndefined()
    expectFilesMatchTool(meta, readArtifactWithTool(path('r3.mender')))
  })

  test('rootfs-image, format 2: no provides, depends or clears; device types from header-info', async () => {
    menderArtifact([
      'write',
      'rootfs-image',
      '-v',
      '2',
      '-n',
      'rootfs-2',
      '-t',
      'dev-a',
      '-t',
      'dev-b',
      '-f',
      path('rootfs.ext4'),
      '-o',
      path('r2.mender'),
      '--no-progress',
    ])
    const meta = await read('r2.mender')
    expect(meta).toMatchObject({
      name: 'rootfs-2',
      device_types_compatible: ['dev-a', 'dev-b'],
      info: { format: 'mender', version: 2 },
      signed: false,
    })
    expect(meta.updates).toHaveLength(1)
    expect(meta.updates[0]?.type_info.type).toBe('rootfs-image')
    expect(meta.updates[0]?.files[0]?.checksum).toBe(sha256(await bytesOf('rootfs.ext4')))
    expect(meta.artifact_provides).toBeUndefined()
    expect(meta.artifact_depends).toBeUndefined()
    expect(meta.clears_artifact_provides).toBeUndefined()
    expectFilesMatchTool(meta, readArtifactWithTool(path('r2.mender')))
  })

  for (const key of ['rsa', 'ec']) {
    test(`signed with ${key === 'rsa' ? 'RSA' : 'ECDSA'}: signed, and readable without the key`, async () => {
      writeFullModuleImage(`signed-${key}.mender`, 'gzip', ['-k', path(`${key}.pem`)])
      const members = splitTar(await bytesOf(`signed-${key}.mender`)).map((m) => m.name)
      expect(members.slice(0, 3)).toEqual(['version', 'manifest', 'manifest.sig'])
      const meta = await read(`signed-${key}.mender`)
      expect(meta.signed).toBe(true)
      expect(meta.name).toBe('full-art')
      expect(readArtifactWithTool(path(`signed-${key}.mender`)).signature).toContain('signed')
    })
  }

  test('augmented module-image: augment provides and meta-data are merged in, its files verified but not listed', async () => {
    menderArtifact([
      'write',
      'module-image',
      '-n',
      'aug-art',
      '-t',
      'dev-a',
      '-T',
      'single-file',
      '-f',
      path('big.bin'),
      '-m',
      path('meta.json'),
      '--augment-type',
      'single-file',
      '--augment-file',
      path('small.txt'),
      '--augment-provides',
      'aug.key:aug-value',
      '--augment-meta-data',
      path('augment-meta.json'),
      '-o',
      path('aug.mender'),
    ])
    const names = splitTar(await bytesOf('aug.mender')).map((m) => m.name)
    expect(names).toEqual([
      'version',
      'manifest',
      'manifest-augment',
      'header.tar.gz',
      'header-augment.tar.gz',
      'data/0000.tar.gz',
    ])
    const meta = await read('aug.mender')
    expect(meta.artifact_provides).toEqual({
      artifact_name: 'aug-art',
      'rootfs-image.single-file.version': 'aug-art',
      'aug.key': 'aug-value',
    })
    expect(meta.updates[0]?.metadata).toEqual({
      vendor: 'acme',
      nested: { list: [1, 2, 3], flag: false },
      added: 'yes',
    })
    expect(meta.updates[0]?.files.map((f) => f.name)).toEqual(['big.bin'])
  })

  test('bootstrap artifact: one empty payload with a null type', async () => {
    menderArtifact([
      'write',
      'bootstrap-artifact',
      '-n',
      'boot-art',
      '-t',
      'dev-a',
      '-o',
      path('boot.mender'),
      '--no-progress',
    ])
    const meta = await read('boot.mender')
    expect(meta.name).toBe('boot-art')
    expect(meta.updates).toEqual([{ type_info: { type: null }, files: [] }])
    expect(meta.clears_artifact_provides).toBeUndefined()
  })

  test('state scripts in the header are accepted and skipped', async () => {
    menderArtifact([
      'write',
      'module-image',
      '-n',
      'scripted',
      '-t',
      'dev-a',
      '-T',
      'script',
      '-f',
      path('small.txt'),
      '-s',
      path('ArtifactInstall_Enter_00'),
      '-o',
      path('scripted.mender'),
    ])
    const meta = await read('scripted.mender')
    expect(meta.updates[0]?.type_info.type).toBe('script')
    expect(meta.updates[0]?.files.map((f) => f.name)).toEqual(['small.txt'])
  })
})

describe('streaming', () => {
  test('any chunking of the source gives the same result', async () => {
    writeFullModuleImage('chunks.mender', 'gzip')
    const bytes = await bytesOf('chunks.mender')
    const whole = await readArtifact(Bun.file(path('chunks.mender')).stream())
    for (const size of [511, 512, 4097, 1 << 20]) {
      expect(await readArtifact(chunked(bytes, size))).toEqual(whole)
    }
  })

  test('byte-by-byte reading works on a small artifact', async () => {
    menderArtifact([
      'write',
      'module-image',
      '-n',
      'tiny',
      '-t',
      'dev-a',
      '-T',
      'single-file',
      '-f',
      path('small.txt'),
      '--compression',
      'lzma',
      '-o',
      path('tiny.mender'),
    ])
    const bytes = await bytesOf('tiny.mender')
    const meta = await readArtifact(chunked(bytes, 1))
    expect(meta.name).toBe('tiny')
    expect(meta.size).toBe(bytes.byteLength)
  })

  test('onBytes sees every byte once, in order, and the next chunk waits for it', async () => {
    writeFullModuleImage('tee.mender', 'gzip')
    const bytes = await bytesOf('tee.mender')
    let pulled = 0
    let delivered = 0
    async function* source() {
      for await (const chunk of chunked(bytes, 64 * 1024)) {
        pulled++
        yield chunk
      }
    }
    const copy = new Bun.CryptoHasher('sha256')
    let copied = 0
    const meta = await readArtifact(source(), {
      onBytes: async (chunk) => {
        // The reader must not pull ahead of a consumer that has not finished with the last chunk.
        expect(pulled).toBe(delivered + 1)
        await Bun.sleep(0)
        copy.update(chunk)
        copied += chunk.byteLength
        delivered++
      },
    })
    expect(delivered).toBe(pulled)
    expect(copied).toBe(bytes.byteLength)
    expect(copy.digest('hex')).toBe(sha256(bytes))
    expect(meta.size).toBe(bytes.byteLength)
  })

  test('an error from onBytes aborts the read', async () => {
    writeFullModuleImage('abort.mender', 'none')
    const failure = new Error('disk full')
    let calls = 0
    const promise = readArtifact(Bun.file(path('abort.mender')).stream(), {
      onBytes: () => {
        calls++
        throw failure
      },
    })
    await expect(promise).rejects.toBe(failure)
    expect(calls).toBe(1)
  })

  test('maxSize: exactly the size passes, one byte less is 413 Artifact file too large', async () => {
    writeFullModuleImage('limit.mender', 'gzip')
    const size = Bun.file(path('limit.mender')).size
    expect((await readArtifact(Bun.file(path('limit.mender')).stream(), { maxSize: size })).size).toBe(size)
    const err = await readArtifact(Bun.file(path('limit.mender')).stream(), { maxSize: size - 1 }).catch(
      (e) => e,
    )
    expect(err).toBeInstanceOf(ArtifactTooLargeError)
    expect(asApiError(err)?.status).toBe(413)
    expect(err.message).toBe('Artifact file too large')
  })
})
