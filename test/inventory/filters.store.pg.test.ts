import { createPgSavedFiltersStore } from '../../src/services/inventory/store.filters.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { savedFiltersStoreContract } from './filters.contract.ts'

savedFiltersStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgSavedFiltersStore(db), close }
})
