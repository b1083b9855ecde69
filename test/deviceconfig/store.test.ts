import { createDeviceconfigStore } from '../../src/services/deviceconfig/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deviceconfigStoreContract } from './store.contract.ts'

deviceconfigStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { store: createDeviceconfigStore(db), close }
})
