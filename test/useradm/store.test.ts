import { createUseradmStore } from '../../src/services/useradm/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { useradmStoreContract } from './store.contract.ts'

useradmStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { store: createUseradmStore(db), close }
})
