import { afterAll, beforeAll, expect, test } from 'bun:test'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { ConflictError } from '../../src/gateway/errors.ts'
import { UPLOAD_CLAIM_MS } from '../../src/services/artifacts/claims.ts'
import { artifactBlobKey } from '../../src/services/artifacts/model.ts'
import { createArtifactsService, type DeploymentUsage } from '../../src/services/artifacts/service.ts'
import { createPgArtifactsStore } from '../../src/services/artifacts/store.pg.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { buildArtifact, chunked } from '../helpers/artifact-builder.ts'
import { openTestPgDatabase } from '../helpers/database.ts'

// Two artifacts services on two pools of one PostgreSQL database, sharing one blob store: two
// bender instances as far as uploads go.
let t: TestApp
let a: PgDatabase
let b: PgDatabase
let closeA: () => Promise<void>
beforeAll(async () => {
  t = await createTestApp()
  const opened = await openTestPgDatabase()
  a = opened.db
  closeA = opened.close
  b = await openPgDatabase(opened.url)
})
afterAll(async () => {
  await closeA()
  await b.$client.close()
  await t.close()
})

test('the same name and device type uploaded through two instances at once: one artifact, one 409 naming the combination', async () => {
  const { deployments } = t.services
  const usage: DeploymentUsage = {
    activeDeploymentIds: (tenantId, names) => deployments.activeDeploymentIds(tenantId, names),
    isNameInAnyDeployment: (tenantId, name) => deployments.isNameInAnyDeployment(tenantId, name),
  }
  const instances = [a, b].map((db) =>
    createArtifactsService(
      { ...t.deps, stores: { ...t.deps.stores, artifacts: createPgArtifactsStore(db) } },
      { usage },
    ),
  )
  for (let round = 0; round < 5; round++) {
    const name = `shared-${round}`
    const upload = (deviceTypes: string[]) => ({
      description: '',
      artifactId: undefined,
      content: chunked(buildArtifact({ name, deviceTypes }), 16 * 1024),
    })
    const results = await Promise.allSettled([
      instances[0]!.uploadArtifact('', upload(['dev-1', 'dev-2'])),
      instances[1]!.uploadArtifact('', upload(['dev-2', 'dev-3'])),
    ])
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
    expect(stored).toHaveLength(1)
    expect(refused).toHaveLength(1)
    expect(refused[0]).toBeInstanceOf(ConflictError)
    expect(refused[0]).toMatchObject({
      status: 409,
      extra: { metadata: { conflict: { device_type: 'dev-2' } } },
    })
    for (const instance of instances) {
      expect((await instance.findArtifactsByName('', name)).map((row) => row.id)).toEqual(stored)
    }
    expect(await t.deps.blobs.get(artifactBlobKey('', stored[0]!))).toBeDefined()
  }
  // Nothing is left of the refused uploads: every object in the store has its artifact row.
  const rows = await Promise.all(
    Array.from({ length: 5 }, (_, i) => instances[0]!.findArtifactsByName('', `shared-${i}`)),
  )
  const keys: string[] = []
  for await (const entry of t.deps.blobs.list()) keys.push(entry.key)
  expect(keys.sort()).toEqual(
    rows
      .flat()
      .map((row) => artifactBlobKey('', row.id))
      .sort(),
  )
})

test("a direct upload being checked by an instance that died is checked by another once the dead one's claim runs out", async () => {
  const { deployments } = t.services
  const usage: DeploymentUsage = {
    activeDeploymentIds: (tenantId, names) => deployments.activeDeploymentIds(tenantId, names),
    isNameInAnyDeployment: (tenantId, name) => deployments.isNameInAnyDeployment(tenantId, name),
  }
  const store = createPgArtifactsStore(a)
  const survivor = createArtifactsService(
    { ...t.deps, stores: { ...t.deps.stores, artifacts: createPgArtifactsStore(b) } },
    { usage },
  )
  // The dead instance had completed the upload and claimed its check, then stopped renewing.
  const id = crypto.randomUUID()
  const now = t.clock.now().getTime()
  await store.insertUploadIntent({
    id,
    tenantId: '',
    status: 'pending',
    createdTs: new Date(now),
    expiresTs: new Date(now + 3_600_000),
  })
  const bytes = buildArtifact({ name: 'orphaned-check', deviceTypes: ['dev-a'] })
  await t.deps.blobs.put(artifactBlobKey('', id), new Blob([bytes]).stream())
  const claim = { owner: 'dead-instance', until: new Date(now + UPLOAD_CLAIM_MS) }
  expect(await store.setUploadIntentStatus('', id, 'pending', 'processing', claim)).toBe(true)
  try {
    // While the claim holds, the other instance leaves the upload alone.
    await survivor.startUp()
    await survivor.idle()
    expect(await survivor.findArtifactById('', id)).toBeUndefined()
    expect(await store.findUploadIntent('', id)).toMatchObject({
      status: 'processing',
      claimedBy: 'dead-instance',
    })
    // Once it runs out, the survivor takes the upload over and records it, its object untouched.
    t.clock.advance(UPLOAD_CLAIM_MS / 1000 + 1)
    await survivor.startUp()
    await survivor.idle()
    expect((await survivor.findArtifactById('', id))?.name).toBe('orphaned-check')
    expect(await store.findUploadIntent('', id)).toBeUndefined()
    const stored = await t.deps.blobs.get(artifactBlobKey('', id))
    const body = stored!.body instanceof Blob ? stored!.body : new Response(stored!.body)
    expect(Buffer.from(await body.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
  } finally {
    await survivor.stop()
  }
})
