import { describe, expect, test } from 'bun:test'
import type { SavedFiltersStore } from '../../src/services/inventory/store.filters.ts'

/** What every saved-filters store must do; `open` gives a fresh, empty store. */
export function savedFiltersStoreContract(
  name: string,
  open: () => Promise<{ store: SavedFiltersStore; close(): void }>,
) {
  describe(`${name} saved filters store`, () => {
    const term = { scope: 'inventory', attribute: 'os', type: '$eq', value: 'debian' }
    const filter = (tenantId: string, id: string, filterName: string) => ({
      tenantId,
      id,
      name: filterName,
      terms: [term],
      created: new Date(Date.UTC(2026, 0, 1)),
    })

    test('inserted once per name and tenant; found; listed by name a page at a time', async () => {
      const { store, close } = await open()
      expect(await store.insert(filter('', 'f2', 'zinc'))).toBe(true)
      expect(await store.insert(filter('', 'f1', 'amber'))).toBe(true)
      expect(await store.insert(filter('', 'f3', 'amber'))).toBe(false)
      expect(await store.insert(filter('other', 'f3', 'amber'))).toBe(true)
      expect(await store.find('', 'f1')).toEqual(filter('', 'f1', 'amber'))
      expect(await store.find('other', 'f1')).toBeUndefined()
      const page = await store.list('', { offset: 0, limit: 1 })
      expect(page.total).toBe(2)
      expect(page.filters.map((f) => f.name)).toEqual(['amber'])
      expect((await store.list('', { offset: 1, limit: 5 })).filters.map((f) => f.name)).toEqual(['zinc'])
      close()
    })

    test('replaced unless missing or the name is another’s; deleted once', async () => {
      const { store, close } = await open()
      await store.insert(filter('', 'f1', 'amber'))
      await store.insert(filter('', 'f2', 'zinc'))
      const terms = [{ ...term, value: 'alpine' }]
      expect(await store.replace('', 'f1', 'blue', terms)).toBe('ok')
      expect(await store.find('', 'f1')).toMatchObject({ name: 'blue', terms })
      expect(await store.replace('', 'f1', 'zinc', terms)).toBe('conflict')
      expect(await store.replace('', 'nope', 'red', terms)).toBe('missing')
      expect(await store.delete('', 'f1')).toBe(true)
      expect(await store.delete('', 'f1')).toBe(false)
      expect(await store.find('', 'f1')).toBeUndefined()
      close()
    })
  })
}
