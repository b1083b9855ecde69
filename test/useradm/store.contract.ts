import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  isUniqueViolation,
  type SettingsRow,
  type TokenRow,
  type UseradmStore,
  type UserRow,
} from '../../src/services/useradm/store.ts'

export type UseradmContractTarget = { store: UseradmStore; close(): Promise<void> }

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute))

let serial = 0
function user(tenantId: string, overrides: Partial<UserRow> = {}): UserRow {
  serial++
  return {
    id: crypto.randomUUID(),
    tenantId,
    email: `user${serial}@example.com`,
    passwordHash: `hash-${serial}`,
    createdTs: at(serial),
    updatedTs: at(serial),
    loginTs: null,
    ...overrides,
  }
}

function token(owner: UserRow, overrides: Partial<TokenRow> = {}): TokenRow {
  serial++
  return {
    id: crypto.randomUUID(),
    tenantId: owner.tenantId,
    userId: owner.id,
    name: null,
    expiresTs: null,
    createdTs: at(serial),
    lastUsedTs: null,
    ...overrides,
  }
}

/**
 * What every engine's useradm store promises; each engine's test file runs it against a real
 * database. Every call is awaited, so the suite holds for a store whose methods return promises.
 */
export function useradmStoreContract(name: string, open: () => Promise<UseradmContractTarget>): void {
  describe(`${name} useradm store`, () => {
    let target: UseradmContractTarget
    let store: UseradmStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    test('users: insert, find by id and by email, within their tenant only', async () => {
      const a = user('t1')
      await store.insertUser(a)
      expect(await store.findUserById('t1', a.id)).toEqual(a)
      expect(await store.findUserByEmail('t1', a.email)).toEqual(a)
      expect(await store.findUserById('t2', a.id)).toBeUndefined()
      expect(await store.findUserByEmail('t2', a.email)).toBeUndefined()
      expect(await store.findUserById('t1', crypto.randomUUID())).toBeUndefined()
    })

    test('an email is unique within a tenant, not across tenants', async () => {
      const a = user('t3')
      await store.insertUser(a)
      const clash = await store.insertUser(user('t3', { email: a.email })).catch((err: unknown) => err)
      expect(isUniqueViolation(clash)).toBe(true)
      expect(isUniqueViolation(new Error('something else'))).toBe(false)
      await store.insertUser(user('t4', { email: a.email }))
      expect(await store.countUsers('t4')).toBe(1)
    })

    test('list by every filter, sorted by email; count per tenant', async () => {
      const tenant = 'list'
      const rows = [
        user(tenant, { email: 'c@example.com', createdTs: at(10), updatedTs: at(20) }),
        user(tenant, { email: 'a@example.com', createdTs: at(11), updatedTs: at(21) }),
        user(tenant, { email: 'b@example.com', createdTs: at(12), updatedTs: at(22) }),
      ]
      for (const row of rows) await store.insertUser(row)
      const emails = async (filter: Parameters<UseradmStore['listUsers']>[1]) =>
        (await store.listUsers(tenant, filter)).map((row) => row.email)
      expect(await emails({})).toEqual(['a@example.com', 'b@example.com', 'c@example.com'])
      expect(await emails({ ids: [rows[0]!.id, rows[2]!.id] })).toEqual(['b@example.com', 'c@example.com'])
      expect(await emails({ emails: ['a@example.com'] })).toEqual(['a@example.com'])
      expect(await emails({ createdAfter: at(10) })).toEqual(['a@example.com', 'b@example.com'])
      expect(await emails({ createdBefore: at(12) })).toEqual(['a@example.com', 'c@example.com'])
      expect(await emails({ updatedAfter: at(21), updatedBefore: at(23) })).toEqual(['b@example.com'])
      expect(await store.countUsers(tenant)).toBe(3)
      expect(await store.countUsers('nobody')).toBe(0)
    })

    test('update changes the given fields only', async () => {
      const a = user('upd')
      await store.insertUser(a)
      await store.updateUser(a.id, { email: 'new@example.com', loginTs: at(50) })
      expect(await store.findUserById('upd', a.id)).toEqual({
        ...a,
        email: 'new@example.com',
        loginTs: at(50),
      })
    })

    test('deleting a user takes its tokens and settings with it', async () => {
      const a = user('del')
      await store.insertUser(a)
      const session = token(a)
      await store.insertToken(session)
      await store.saveSettings({ tenantId: 'del', userId: a.id, value: { x: 1 }, etag: 'e1' }, undefined)
      await store.deleteUser('del', a.id)
      expect(await store.findUserById('del', a.id)).toBeUndefined()
      expect(await store.findTokenById(session.id)).toBeUndefined()
      expect(await store.findSettings('del', a.id)).toBeUndefined()
    })

    test('tokens: the revocation check, deleting one, and all but one', async () => {
      const a = user('tok')
      await store.insertUser(a)
      const [one, two, three] = [token(a), token(a, { name: 'ci' }), token(a)]
      for (const row of [one, two, three]) await store.insertToken(row!)
      expect(await store.findTokenById(two!.id)).toEqual({
        id: two!.id,
        userId: a.id,
        lastUsedTs: null,
        name: 'ci',
      })
      await store.deleteToken('tok', a.id, one!.id)
      await store.deleteToken('tok', crypto.randomUUID(), two!.id)
      expect(await store.findTokenById(one!.id)).toBeUndefined()
      expect(await store.findTokenById(two!.id)).toBeDefined()
      await store.deleteUserTokens(a.id, three!.id)
      expect(await store.findTokenById(two!.id)).toBeUndefined()
      expect(await store.findTokenById(three!.id)).toBeDefined()
      await store.deleteUserTokens(a.id)
      expect(await store.findTokenById(three!.id)).toBeUndefined()
    })

    test('pruning keeps the newest login sessions and every personal token', async () => {
      const a = user('prune')
      await store.insertUser(a)
      const sessions = [token(a), token(a), token(a), token(a)]
      const personal = token(a, { name: 'keep' })
      for (const row of [...sessions, personal]) await store.insertToken(row)
      await store.pruneSessions(a.id, 2)
      const alive = async (row: TokenRow) => (await store.findTokenById(row.id)) !== undefined
      expect(await Promise.all(sessions.map(alive))).toEqual([false, false, true, true])
      expect(await alive(personal)).toBe(true)
    })

    test('sessions of the same millisecond are pruned in the order they were issued', async () => {
      const a = user('prune-tie')
      await store.insertUser(a)
      const sessions = [1, 2, 3, 4].map(() => token(a, { createdTs: at(900) }))
      for (const row of sessions) await store.insertToken(row)
      await store.pruneSessions(a.id, 3)
      const alive = async (row: TokenRow) => (await store.findTokenById(row.id)) !== undefined
      expect(await Promise.all(sessions.map(alive))).toEqual([false, true, true, true])
    })

    test('personal tokens: listed oldest first, counted, touched', async () => {
      const a = user('pat')
      await store.insertUser(a)
      const first = token(a, { name: 'first' })
      const second = token(a, { name: 'second', expiresTs: at(500) })
      for (const row of [second, token(a), first]) await store.insertToken(row)
      expect((await store.listPersonalTokens('pat', a.id)).map((row) => row.name)).toEqual([
        'first',
        'second',
      ])
      expect(await store.listPersonalTokens('other', a.id)).toEqual([])
      expect(await store.countPersonalTokens(a.id)).toBe(2)
      await store.touchToken(first.id, at(600))
      expect((await store.findTokenById(first.id))?.lastUsedTs).toEqual(at(600))
      const taken = await store.insertToken(token(a, { name: 'first' })).catch((err: unknown) => err)
      expect(isUniqueViolation(taken)).toBe(true)
    })

    test('settings: saved, replaced, and replaced only while the etag still matches', async () => {
      const row = (value: Record<string, unknown>, etag: string): SettingsRow => ({
        tenantId: 'set',
        userId: '',
        value,
        etag,
      })
      expect(await store.findSettings('set', '')).toBeUndefined()
      expect(await store.saveSettings(row({ a: 0 }, 'e0'), 'e0')).toBe(false)
      expect(await store.findSettings('set', '')).toBeUndefined()
      expect(await store.saveSettings(row({ a: 1 }, 'e1'), undefined)).toBe(true)
      expect(await store.findSettings('set', '')).toEqual(row({ a: 1 }, 'e1'))
      expect(await store.saveSettings(row({ a: 2 }, 'e2'), 'stale')).toBe(false)
      expect(await store.findSettings('set', '')).toEqual(row({ a: 1 }, 'e1'))
      expect(await store.saveSettings(row({ a: 3 }, 'e3'), 'e1')).toBe(true)
      expect(await store.findSettings('set', '')).toEqual(row({ a: 3 }, 'e3'))
    })
  })
}
