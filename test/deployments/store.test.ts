import { createDeviceDeploymentsStore } from '../../src/services/deployments/store.devices.ts'
import { createDeploymentsStore } from '../../src/services/deployments/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { deployments: createDeploymentsStore(db), devices: createDeviceDeploymentsStore(db), close }
})
