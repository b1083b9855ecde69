import { createDeviceauthStore } from '../../src/services/deviceauth/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deviceauthStoreContract } from './store.contract.ts'

deviceauthStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return { store: createDeviceauthStore(db), close }
})
