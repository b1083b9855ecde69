import { createEventsStore } from '../../src/events/store.ts'
import { createDeviceauthStore, createRevocationCounter } from '../../src/services/deviceauth/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deviceauthStoreContract } from './store.contract.ts'

deviceauthStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  const revocations = createRevocationCounter()
  return { store: createDeviceauthStore(db, revocations), revocations, events: createEventsStore(db), close }
})
