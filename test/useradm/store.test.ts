import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createUseradmStore } from '../../src/services/useradm/store.ts'
import { useradmStoreContract } from './store.contract.ts'

useradmStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-useradm-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    store: createUseradmStore(db),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
