import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { createPgIotManagerStore } from '../../src/services/iot-manager/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { iotManagerStoreContract } from './store.contract.ts'

iotManagerStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return {
    store: createPgIotManagerStore(db),
    outbox: () => createPgEventsStore(db).readAfter(0, 10_000),
    close,
  }
})
