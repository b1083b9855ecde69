import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createDeviceconfigStore } from '../../src/services/deviceconfig/store.ts'
import { deviceconfigStoreContract } from './store.contract.ts'

deviceconfigStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-deviceconfig-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    store: createDeviceconfigStore(db),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
