import { createPgInventoryStore } from '../../src/services/inventory/store.pg.ts'
import { createPgInventorySearchStore } from '../../src/services/inventory/store.search.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { inventoryStoreContract } from './store.contract.ts'

inventoryStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgInventoryStore(db), search: createPgInventorySearchStore(db), close }
})
