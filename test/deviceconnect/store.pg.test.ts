import { afterAll } from 'bun:test'
import { createPgDeviceconnectStore } from '../../src/services/deviceconnect/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deviceconnectStoreContract } from './store.contract.ts'

const opened: (() => Promise<void>)[] = []

deviceconnectStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  opened.push(close)
  return createPgDeviceconnectStore(db)
})

afterAll(async () => {
  for (const close of opened) await close()
})
