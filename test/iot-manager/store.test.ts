import { createEventsStore } from '../../src/events/store.ts'
import { createIotManagerStore } from '../../src/services/iot-manager/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { iotManagerStoreContract } from './store.contract.ts'

iotManagerStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    store: createIotManagerStore(db),
    outbox: () => createEventsStore(db).readAfter(0, 10_000),
    close,
  }
})
