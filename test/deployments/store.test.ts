import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createDeviceDeploymentsStore } from '../../src/services/deployments/store.devices.ts'
import { createDeploymentsStore } from '../../src/services/deployments/store.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-deployments-store-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    deployments: createDeploymentsStore(db),
    devices: createDeviceDeploymentsStore(db),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
