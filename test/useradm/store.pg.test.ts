import { expect, test } from 'bun:test'
import { openPgDatabase } from '../../db/pg.ts'
import { createPgUseradmStore } from '../../src/services/useradm/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { useradmStoreContract } from './store.contract.ts'

useradmStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgUseradmStore(db), close }
})

test('a user token revoked through one instance is refused by another at its next check', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const other = await openPgDatabase(url)
  try {
    const [a, b] = [createPgUseradmStore(db), createPgUseradmStore(other)]
    const at = new Date(Date.UTC(2026, 0, 1))
    const user = { id: crypto.randomUUID(), tenantId: '', email: 'x@example.com', passwordHash: 'h' }
    await a.insertUser({ ...user, createdTs: at, updatedTs: at, loginTs: null })
    const token = { id: crypto.randomUUID(), tenantId: '', userId: user.id, name: null, expiresTs: null }
    await a.insertToken({ ...token, createdTs: at, lastUsedTs: null })
    expect(await b.findTokenById(token.id)).toMatchObject({ id: token.id, userId: user.id })
    await a.deleteUserTokens(user.id)
    expect(await b.findTokenById(token.id)).toBeUndefined()
  } finally {
    await other.$client.close()
    await close()
  }
})
