import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { artifactBlobKey } from '../../src/services/artifacts/model.ts'
import { ARTIFACTS, blobKeys, makeArtifact, upload } from '../deployments/helpers.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

let dir: string
let t: TestApp

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-orphans-'))
  t = await createTestApp()
})
afterAll(() => {
  t.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Makes an object look as old as `days` days before the test clock. */
function age(key: string, days: number): void {
  const when = new Date(t.clock.now().getTime() - days * 86_400_000)
  utimesSync(join(t.deps.config.storageDir, key), when, when)
}

test('the start-up sweep keeps what artifacts and pending uploads refer to, and removes the rest', async () => {
  const { token } = await loginAs(t)
  const artifacts = t.services.artifacts
  const path = await makeArtifact(dir, { name: 'kept' })

  const uploaded = await upload(t, token, path)
  const artifactId = uploaded.headers.get('location')!.split('/').at(-1)!
  age(artifactId, 30)

  const orphan = crypto.randomUUID()
  await t.deps.blobs.put(orphan, new Blob(['left by a crash between object and row']).stream())
  age(orphan, 30)

  const recentOrphan = crypto.randomUUID()

  const pending = await artifacts.requestDirectUpload('')
  await t.deps.blobs.put(pending.id, new Blob(['uploaded, not yet completed']).stream())
  age(pending.id, 30)

  const abandoned = await artifacts.requestDirectUpload('')
  await t.deps.blobs.put(abandoned.id, new Blob(['uploaded and forgotten']).stream())
  age(abandoned.id, 30)

  // Completed just before a stop: checked again at start-up.
  const interrupted = await artifacts.requestDirectUpload('')
  await t.deps.blobs.put(interrupted.id, Bun.file(await makeArtifact(dir, { name: 'resumed' })).stream())
  await t.deps.stores.artifacts.setUploadIntentStatus('', interrupted.id, 'pending', 'processing')

  mkdirSync(join(t.deps.config.dataDir, 'tmp', 'generate-x'), { recursive: true })
  writeFileSync(join(t.deps.config.dataDir, 'tmp', 'generate-x', 'payload'), 'half a file')

  // Two days on, the first links are long expired. `pending` was signed three days ago with a
  // link lifetime longer than today's setting: its own expiry, still ahead, keeps it.
  t.clock.advance(2 * 86_400)
  const stillPending = t.deps.stores.artifacts
  await stillPending.deleteUploadIntent('', pending.id)
  await stillPending.insertUploadIntent({
    id: pending.id,
    tenantId: '',
    status: 'pending',
    createdTs: new Date(t.clock.now().getTime() - 3 * 86_400_000),
    expiresTs: new Date(t.clock.now().getTime() + 3_600_000),
  })

  // Unreferenced but new: it may belong to an upload that is not over yet.
  await t.deps.blobs.put(recentOrphan, new Blob(['maybe still being recorded']).stream())
  age(recentOrphan, 0)

  const result = await artifacts.startUp()
  await artifacts.idle()
  expect(result.removed.sort()).toEqual([abandoned.id, orphan].sort())
  expect(await blobKeys(t)).toEqual(
    [artifactBlobKey('', artifactId), recentOrphan, pending.id, interrupted.id].sort(),
  )
  expect((await t.call('GET', `${ARTIFACTS}/${interrupted.id}`, { token })).json.name).toBe('resumed')
  expect(await t.deps.stores.artifacts.findUploadIntent('', abandoned.id)).toBeUndefined()
  expect((await t.deps.stores.artifacts.findUploadIntent('', pending.id))?.status).toBe('pending')
  expect(Bun.file(join(t.deps.config.dataDir, 'tmp', 'generate-x', 'payload')).size).toBe(0)
})
