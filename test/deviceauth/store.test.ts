import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createDeviceauthStore } from '../../src/services/deviceauth/store.ts'
import { deviceauthStoreContract } from './store.contract.ts'

deviceauthStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-deviceauth-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    store: createDeviceauthStore(db),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
