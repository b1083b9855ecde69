import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { createDiskBlobStore } from '../../src/storage/disk.ts'
import { orphanCutoff, sweepOrphans } from '../../src/storage/orphans.ts'
import { patternStream } from './bytes.ts'

let root: string
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bender-orphans-'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

test('the cutoff leaves the upload link lifetime plus a day of slack', () => {
  const config = loadConfig({ BENDER_DATA_DIR: root, BENDER_UPLOAD_LINK_TTL: '3600' })
  const now = new Date('2030-06-01T12:00:00Z')
  expect(orphanCutoff(config, now)).toEqual(new Date('2030-05-31T11:00:00Z'))
})

test('a start-up sweep removes old unreferenced objects and stale temp files, and keeps the rest', async () => {
  const config = loadConfig({ BENDER_DATA_DIR: root })
  const store = createDiskBlobStore(config.storageDir)
  const now = new Date()
  const cutoff = orphanCutoff(config, now)
  const before = new Date(cutoff.getTime() - 60_000)
  const after = new Date(cutoff.getTime() + 60_000)
  const objects: [string, Date][] = [
    ['referenced-old', before],
    ['orphan-old', before],
    ['orphan-recent', after],
  ]
  for (const [key, mtime] of objects) {
    await store.put(key, patternStream(10).stream)
    utimesSync(join(config.storageDir, key), mtime, mtime)
  }
  const staleTemp = join(config.storageDir, '.crashed.0f8fad5b-d9cb-469f-a165-70867728950e.tmp')
  writeFileSync(staleTemp, 'half an upload')
  utimesSync(staleTemp, before, before)

  const result = await sweepOrphans(store, {
    isReferenced: async (key) => key === 'referenced-old',
    olderThan: cutoff,
  })
  expect(result).toEqual({ removed: ['orphan-old'], staleTemp: 1 })
  expect(readdirSync(config.storageDir).sort()).toEqual(['orphan-recent', 'referenced-old'])
})
