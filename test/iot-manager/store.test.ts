import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { createIotManagerStore } from '../../src/services/iot-manager/store.ts'
import { iotManagerStoreContract } from './store.contract.ts'

iotManagerStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-iot-manager-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    store: createIotManagerStore(db),
    outbox: () => createEventsStore(db).readAfter(0, 10_000),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
