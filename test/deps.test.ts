import { afterAll, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import { buildDeps, closeDeps } from '../src/deps.ts'
import { createLogger } from '../src/log.ts'
import { ARTIFACTS } from './deployments/helpers.ts'
import { createTestApp, loginAs } from './helpers/app.ts'
import { buildArtifact } from './helpers/artifact-builder.ts'

const root = mkdtempSync(join(tmpdir(), 'bender-modes-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const mode = (path: string) => statSync(path).mode & 0o777

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string): string[] =>
  (readdirSync(dir, { recursive: true }) as string[])
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())

test('the data dir is 0700 and the database, keys and artifacts in it 0600', async () => {
  const dataDir = join(root, 'fresh', 'data')
  const t = await createTestApp({ BENDER_DATA_DIR: dataDir })
  try {
    const token = (await loginAs(t)).token
    const form = new FormData()
    form.append('artifact', new Blob([buildArtifact() as Uint8Array<ArrayBuffer>]), 'a.mender')
    expect((await t.call('POST', ARTIFACTS, { token, raw: form })).status).toBe(201)
    expect(mode(dataDir)).toBe(0o700)
    const files = filesUnder(dataDir)
    // On PostgreSQL the database is the server's; the keys and artifacts are still here.
    expect(files.some((file) => file.endsWith('bender.db'))).toBe(t.engine === 'sqlite')
    expect(files.some((file) => file.includes('artifacts'))).toBe(true)
    for (const file of files) expect([file, mode(file)]).toEqual([file, 0o600])
  } finally {
    await t.close()
  }
})

test('a data dir made with wider modes is narrowed at start', async () => {
  const dataDir = join(root, 'old')
  const config = loadConfig({ BENDER_DATA_DIR: dataDir, BENDER_LOG_LEVEL: 'error' })
  await closeDeps(await buildDeps(config, { log: createLogger('error') }))
  chmodSync(dataDir, 0o755)
  chmodSync(join(dataDir, 'bender.db'), 0o644)
  await closeDeps(await buildDeps(config, { log: createLogger('error') }))
  expect(mode(dataDir)).toBe(0o700)
  expect(mode(join(dataDir, 'bender.db'))).toBe(0o600)
})
