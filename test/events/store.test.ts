import { outboxFor } from '../../src/events/outbox.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { eventsStoreContract } from './store.contract.ts'

eventsStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    store: createEventsStore(db),
    outbox: outboxFor(db),
    transaction: (fn) => db.transaction(() => fn()),
    close,
  }
})
