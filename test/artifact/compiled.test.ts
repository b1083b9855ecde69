import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { menderArtifact, run } from '../helpers/mender-tools.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bender-artifact-compiled-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The server ships as a `bun build --compile` binary: the decompressors (xz's WebAssembly above all)
// must work there, not only under `bun run`.
test('a compiled binary reads xz, gzip and uncompressed artifacts', () => {
  const reader = resolve(import.meta.dir, '../../src/artifact/reader.ts')
  writeFileSync(
    join(dir, 'main.ts'),
    `import { readArtifact } from ${JSON.stringify(reader)}\n` +
      'for (const path of process.argv.slice(2)) {\n' +
      '  const meta = await readArtifact(Bun.file(path).stream())\n' +
      '  console.log(meta.name, meta.updates[0].files[0].checksum)\n' +
      '}\n',
  )
  // Built as scripts/build.ts builds the server: from the repository root, with the xz worker as an entrypoint.
  run(
    [
      process.execPath,
      'build',
      '--compile',
      '--root=.',
      join(dir, 'main.ts'),
      'src/artifact/xz-worker.ts',
      '--outfile',
      join(dir, 'reader'),
    ],
    resolve(import.meta.dir, '../..'),
  )
  const payload = crypto.getRandomValues(new Uint8Array(200_000))
  writeFileSync(join(dir, 'payload.bin'), payload)
  const artifacts = ['lzma', 'gzip', 'none'].map((compression) => {
    const out = join(dir, `${compression}.mender`)
    menderArtifact([
      'write',
      'module-image',
      '-n',
      `compiled-${compression}`,
      '-t',
      'dev-a',
      '-T',
      'single-file',
      '-f',
      join(dir, 'payload.bin'),
      '--compression',
      compression,
      '-o',
      out,
    ])
    return out
  })
  const checksum = new Bun.CryptoHasher('sha256').update(payload).digest('hex')
  expect(run([join(dir, 'reader'), ...artifacts], dir)).toBe(
    ['lzma', 'gzip', 'none'].map((c) => `compiled-${c} ${checksum}\n`).join(''),
  )
})
