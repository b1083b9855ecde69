import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import { backup, MANIFEST } from '../../src/backup/backup.ts'
import { BackupError } from '../../src/backup/files.ts'
import { restore } from '../../src/backup/restore.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/log.ts'
import { ARTIFACTS } from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'

const work = mkdtempSync(join(tmpdir(), 'bender-backup-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))
const log = createLogger('error', () => {})

async function uploadArtifact(t: TestApp, token: string, name: string): Promise<string> {
  const form = new FormData()
  form.append('artifact', new Blob([buildArtifact({ name })]), `${name}.mender`)
  const res = await t.call('POST', ARTIFACTS, { token, raw: form })
  expect(res.status).toBe(201)
  return res.headers.get('location')!.split('/').at(-1)!
}

const restoreConfig = (dataDir: string, env: Record<string, string> = {}) =>
  loadConfig({ BENDER_DATA_DIR: dataDir, ...env })

describe('backup and restore with disk storage', () => {
  let t: TestApp
  let token: string
  let kept: string
  beforeAll(async () => {
    t = await createTestApp()
    token = (await loginAs(t)).token
    kept = await uploadArtifact(t, token, 'kept-1')
    const removed = await uploadArtifact(t, token, 'removed-1')
    expect((await t.call('DELETE', `${ARTIFACTS}/${removed}`, { token })).status).toBe(204)
    // An object no artifact refers to (an orphan the start-up sweep has not reached yet).
    writeFileSync(join(t.deps.config.storageDir, crypto.randomUUID()), 'orphan')
  })
  afterAll(() => t.close())

  test('the backup holds the database, the keys and exactly the artifacts the database refers to', async () => {
    const to = join(work, 'disk-backup')
    const manifest = await backup(t.deps.config, to, log)
    expect(manifest).toMatchObject({ storage: 'disk', artifacts: 1, missing: [] })
    expect(manifest.keys).toEqual(['jwt.pem', 'links.key'])
    expect(readdirSync(join(to, 'artifacts'))).toEqual([kept])
    expect(readFileSync(join(to, 'artifacts', kept))).toEqual(
      readFileSync(join(t.deps.config.storageDir, kept)),
    )
    expect(JSON.parse(readFileSync(join(to, MANIFEST), 'utf8')).artifacts).toBe(1)
  })

  test('a backup refuses a target that is not empty and leaves it alone', async () => {
    const to = join(work, 'busy-target')
    mkdirSync(to)
    writeFileSync(join(to, 'precious'), 'x')
    await expect(backup(t.deps.config, to, log)).rejects.toBeInstanceOf(BackupError)
    expect(readdirSync(to)).toEqual(['precious'])
  })

  test('a restore makes a data dir that serves the same users, artifacts and keys', async () => {
    const dataDir = join(work, 'restored')
    const manifest = await restore(join(work, 'disk-backup'), restoreConfig(dataDir))
    expect(manifest.artifacts).toBe(1)
    expect(readdirSync(join(dataDir, 'artifacts'))).toEqual([kept])
    const restored = await createTestApp({
      BENDER_DATA_DIR: dataDir,
      BENDER_JWT_KEY: join(dataDir, 'keys', 'jwt.pem'),
    })
    try {
      // The token was signed before the backup: the restored key and token rows accept it.
      const list = await restored.call('GET', ARTIFACTS, { token })
      expect(list.status).toBe(200)
      expect(list.json.map((a: { id: string }) => a.id)).toEqual([kept])
    } finally {
      await restored.close()
    }
  })

  test('a restore refuses a non-empty data dir, a missing backup, and a disk backup into S3', async () => {
    const busy = join(work, 'busy-data')
    mkdirSync(busy)
    writeFileSync(join(busy, 'bender.db'), 'live data')
    await expect(restore(join(work, 'disk-backup'), restoreConfig(busy))).rejects.toThrow('is not empty')
    expect(readFileSync(join(busy, 'bender.db'), 'utf8')).toBe('live data')
    await expect(restore(join(work, 'nothing-here'), restoreConfig(join(work, 'new-1')))).rejects.toThrow(
      'not a complete bender backup',
    )
    const s3Config = restoreConfig(join(work, 'new-2'), {
      BENDER_STORAGE: 's3',
      BENDER_S3_BUCKET: 'some-bucket',
    })
    await expect(restore(join(work, 'disk-backup'), s3Config)).rejects.toThrow('BENDER_STORAGE=disk')
    expect(existsSync(join(work, 'new-1'))).toBe(false)
    expect(existsSync(join(work, 'new-2'))).toBe(false)
  })

  test('a damaged database fails the restore and leaves nothing behind', async () => {
    const damaged = join(work, 'damaged-backup')
    await backup(t.deps.config, damaged, log)
    const db = readFileSync(join(damaged, 'bender.db'))
    db.fill(0x41, 4096, 8192)
    writeFileSync(join(damaged, 'bender.db'), db)
    const dataDir = join(work, 'restored-damaged')
    await expect(restore(damaged, restoreConfig(dataDir))).rejects.toThrow()
    expect(existsSync(dataDir)).toBe(false)
  })
})

describe('backup with S3 storage', () => {
  let s3: FauxqsServer
  let t: TestApp
  beforeAll(async () => {
    s3 = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false })
    t = await createTestApp({
      BENDER_STORAGE: 's3',
      BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      BENDER_S3_BUCKET: `bender-backup-${process.pid}`,
      BENDER_S3_ACCESS_KEY: 'bender',
      BENDER_S3_SECRET_KEY: 'bender-secret',
    })
  })
  afterAll(async () => {
    t.close()
    await s3.stop()
  })

  test('holds the database and keys only; the artifacts stay in the bucket', async () => {
    const { token } = await loginAs(t)
    const id = await uploadArtifact(t, token, 's3-kept')
    const to = join(work, 's3-backup')
    const manifest = await backup(t.deps.config, to, log)
    expect(manifest).toMatchObject({ storage: 's3', s3Bucket: t.deps.config.s3!.bucket, artifacts: 0 })
    expect(readdirSync(to).sort()).toEqual([MANIFEST, 'bender.db', 'keys'])
    const dataDir = join(work, 's3-restored')
    await restore(to, { ...t.deps.config, dataDir })
    const restored = await createTestApp({
      BENDER_DATA_DIR: dataDir,
      BENDER_JWT_KEY: join(dataDir, 'keys', 'jwt.pem'),
      BENDER_STORAGE: 's3',
      BENDER_S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      BENDER_S3_BUCKET: t.deps.config.s3!.bucket,
      BENDER_S3_ACCESS_KEY: 'bender',
      BENDER_S3_SECRET_KEY: 'bender-secret',
    })
    try {
      const link = await restored.call('GET', `${ARTIFACTS}/${id}/download`, { token })
      expect(link.status).toBe(200)
    } finally {
      await restored.close()
    }
  })
})
