import { createPgDeviceconfigStore } from '../../src/services/deviceconfig/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deviceconfigStoreContract } from './store.contract.ts'

deviceconfigStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgDeviceconfigStore(db), close }
})
