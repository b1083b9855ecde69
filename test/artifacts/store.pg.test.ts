import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SQL } from 'bun'
import { runPgMigrations } from '../../db/migrate.pg.ts'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { unwindDepends } from '../../src/services/artifacts/depends.ts'
import type { ArtifactRow } from '../../src/services/artifacts/model.ts'
import { createPgArtifactsStore } from '../../src/services/artifacts/store.pg.ts'
import { createPgReleasesStore } from '../../src/services/artifacts/store.releases.pg.ts'
import { testPostgres } from '../helpers/postgres.ts'
import { type ArtifactsContractTarget, artifact, artifactsStoreContract, at } from './store.contract.ts'
import { releasesStoreContract } from './store.releases.contract.ts'

/**
 * A migrated database whose default collation is linguistic (ICU en-US: `a` < `B` < `b`, `É`
 * folded by lower()), unlike the test server's C.UTF-8: the listings must still come out in
 * SQLite's code point order, so the stores must not lean on the database's collation.
 */
let template: Promise<string> | undefined
async function linguisticDatabase(): Promise<string> {
  const server = await testPostgres()
  template ??= (async () => {
    const name = `bender_icu_${process.pid}`
    const admin = new SQL(server.adminUrl, { max: 1 })
    try {
      await admin.unsafe(
        `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      )
    } finally {
      await admin.close()
    }
    const url = server.adminUrl.replace(/\/postgres$/, `/${name}`)
    await runPgMigrations(url)
    return url
  })()
  return server.createDatabase(await template)
}

async function openPg(): Promise<ArtifactsContractTarget & { url: string }> {
  const url = await linguisticDatabase()
  const db = await openPgDatabase(url)
  return {
    url,
    artifacts: createPgArtifactsStore(db),
    releases: createPgReleasesStore(db),
    events: createPgEventsStore(db),
    close: () => db.$client.close(),
  }
}

artifactsStoreContract('PostgreSQL', openPg)
releasesStoreContract('PostgreSQL', openPg)

describe('PostgreSQL artifacts shared by two instances', () => {
  // Two pools on one database, as two bender processes would have.
  let a: PgDatabase
  let b: PgDatabase
  beforeAll(async () => {
    const url = await linguisticDatabase()
    a = await openPgDatabase(url)
    b = await openPgDatabase(url)
  })
  afterAll(async () => {
    await a.$client.close()
    await b.$client.close()
  })

  const insert = (db: PgDatabase, row: ArtifactRow) =>
    createPgArtifactsStore(db).insertArtifact(row, unwindDepends(row.depends))
  const releaseOf = async (tenant: string, name: string) =>
    (
      await createPgReleasesStore(a).listReleases(
        tenant,
        { names: [name] },
        { by: 'name', order: 'asc' },
        { offset: 0, limit: 1 },
      )
    )[0]
  const ROUNDS = 20

  test('uploads of one name and device type on both at once: one is recorded, the other is a conflict', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race-${round}`
      const results = await Promise.all([
        insert(a, artifact('race', name, ['dev-a', 'dev-b'])),
        insert(b, artifact('race', name, ['dev-b', 'dev-c'])),
      ])
      expect(results).toContainEqual({ inserted: true })
      expect(results).toContainEqual({ inserted: false, conflict: { device_type: 'dev-b' } })
      expect(await createPgArtifactsStore(b).findArtifactsByName('race', name)).toHaveLength(1)
      expect(await releaseOf('race', name)).toMatchObject({ artifactsCount: 1 })
    }
  })

  test('an upload racing the deletion of its release keeps the release row in step with its artifacts', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `churn-${round}`
      const old = artifact('churn', name, ['dev-a'], { modified: at(1) })
      expect(await insert(a, old)).toEqual({ inserted: true })
      const fresh = artifact('churn', name, ['dev-b'], { modified: at(2) })
      const wholeRelease = round % 2 === 1
      const [, inserted] = await Promise.all([
        wholeRelease
          ? createPgArtifactsStore(a).deleteArtifactsByNames('churn', [name])
          : createPgArtifactsStore(a).deleteArtifact('churn', old.id, at(3)),
        insert(b, fresh),
      ])
      expect(inserted).toEqual({ inserted: true })
      const left = (await createPgArtifactsStore(a).findArtifactsByName('churn', name)).map((row) => row.id)
      // Deleting the one old artifact never takes the new one; deleting the release may, if it came second.
      expect(wholeRelease ? [[], [fresh.id]] : [[fresh.id]]).toContainEqual(left)
      const release = await releaseOf('churn', name)
      if (left.length === 0) expect(release).toBeUndefined()
      else expect(release).toMatchObject({ name, artifactsCount: 1 })
    }
  })

  test('one artifact id claimed on both at once: one claim wins', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const id = crypto.randomUUID()
      const results = await Promise.all(
        [a, b].map((db, i) =>
          createPgArtifactsStore(db).claimArtifactId(
            'claim',
            id,
            { owner: `instance-${i}`, until: at(30) },
            at(1),
          ),
        ),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
    }
  })

  test('claims run out on both at once: each is taken over by one of them', async () => {
    const tenant = 'takeover'
    const ids = Array.from({ length: 40 }, () => crypto.randomUUID())
    for (const id of ids) {
      await createPgArtifactsStore(a).claimArtifactId(tenant, id, { owner: 'dead', until: at(1) }, at(1))
    }
    const [fromA, fromB] = await Promise.all(
      [a, b].map((db, i) =>
        createPgArtifactsStore(db).takeStaleUploadClaims({ owner: `instance-${i}`, until: at(100) }, at(50)),
      ),
    )
    const taken = [...fromA!, ...fromB!].filter((row) => row.tenantId === tenant).map((row) => row.id)
    expect(taken.sort()).toEqual(ids.sort())
  })

  test('tag replacements on both at once never pass the bound on distinct tags together', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const tenant = `tags-${round}`
      await insert(a, artifact(tenant, 'one', ['dev-a']))
      await insert(a, artifact(tenant, 'two', ['dev-a']))
      const results = await Promise.all([
        createPgReleasesStore(a).replaceTags(tenant, 'one', ['a', 'b'], 3),
        createPgReleasesStore(b).replaceTags(tenant, 'two', ['c', 'd'], 3),
      ])
      expect(results.sort()).toEqual(['ok', 'too-many'])
      expect((await createPgReleasesStore(b).listTags(tenant)).length).toBeLessThanOrEqual(3)
    }
  })
})
