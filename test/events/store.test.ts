import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { outboxFor } from '../../src/events/outbox.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { eventsStoreContract } from './store.contract.ts'

eventsStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bender-events-'))
  const db = openDatabase(join(dir, 'bender.db'))
  await runMigrations(db)
  return {
    store: createEventsStore(db),
    outbox: outboxFor(db),
    transaction: (fn) => db.transaction(() => fn()),
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
