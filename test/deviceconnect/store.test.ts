import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { createDeviceconnectStore } from '../../src/services/deviceconnect/store.ts'
import { deviceconnectStoreContract } from './store.contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'bender-connect-store-'))
const opened: { $client: { close(): void } }[] = []
let n = 0

deviceconnectStoreContract('SQLite', async () => {
  const db = openDatabase(join(dir, `store-${n++}.db`))
  await runMigrations(db)
  opened.push(db)
  return createDeviceconnectStore(db)
})

afterAll(() => {
  for (const db of opened) db.$client.close()
  rmSync(dir, { recursive: true, force: true })
})
