import { createDeploymentsStore } from '../../src/services/deployments/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('SQLite', async (parts) => {
  const { db, close } = await openTestDatabase()
  return { store: createDeploymentsStore(db, parts), close }
})
