import { createInventorySearchStore } from '../../src/services/inventory/store.search.ts'
import { createInventoryStore } from '../../src/services/inventory/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { inventoryStoreContract } from './store.contract.ts'

inventoryStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { store: createInventoryStore(db), search: createInventorySearchStore(db), close }
})
