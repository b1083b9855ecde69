import { createSavedFiltersStore } from '../../src/services/inventory/store.filters.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { savedFiltersStoreContract } from './filters.contract.ts'

savedFiltersStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { store: createSavedFiltersStore(db), close }
})
