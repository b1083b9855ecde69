import { createPgDeploymentsStore } from '../../src/services/deployments/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('PostgreSQL', async (parts) => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgDeploymentsStore(db, parts), close }
})
