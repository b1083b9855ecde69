import { outboxFor } from '../../src/events/outbox.ts'
import { createEventsStore } from '../../src/events/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { eventsStoreContract } from './store.contract.ts'

eventsStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  const outbox = outboxFor(db)
  return {
    store: createEventsStore(db),
    async write(events, hooks = {}) {
      db.transaction(() => {
        hooks.opened?.()
        for (const event of events) outbox.append(event)
        if (hooks.fail) throw hooks.fail
        // A bun:sqlite transaction cannot wait; the store's reads here run when called.
        void hooks.closing?.()
      })
    },
    onCommit: (wake) => outbox.onCommit(wake),
    close,
  }
})
