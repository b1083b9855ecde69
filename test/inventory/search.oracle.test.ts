import { expect, test } from 'bun:test'
import { createDeviceSearch } from '../../src/services/inventory/search.ts'
import { createInventoryStore } from '../../src/services/inventory/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { searchOracle } from './search.oracle.ts'

/*
 * SQLite's planner answers the oracle's searches on this thread (the worker runs the same code),
 * so that the statements it ran can be read: every page strategy must have been taken (walking a
 * sort key, walking by age, sorting all matches, with and without a budget that runs out).
 */
const statements: string[] = []

searchOracle(
  'SQLite',
  async () => {
    const { db, close } = await openTestDatabase()
    const sqlite = db.$client
    const query = sqlite.query.bind(sqlite)
    sqlite.query = ((text: string) => {
      statements.push(text)
      return query(text)
    }) as typeof sqlite.query
    const search = createDeviceSearch(db)
    return {
      store: createInventoryStore(db),
      search: async (tenantId, request) => search.search(tenantId, request),
      close,
    }
  },
  { devices: 2500, searches: 400 },
)

test('the searches took every page strategy of the SQLite planner', () => {
  const ran = (pattern: RegExp) => statements.filter((s) => pattern.test(s)).length
  expect(ran(/UNION ALL|"w"\.attr/)).toBeGreaterThan(10)
  expect(ran(/"w"\.attr[\s\S]*\+dev IN/)).toBeGreaterThan(0)
  expect(ran(/NOT INDEXED/)).toBeGreaterThan(10)
  expect(ran(/count\(\*\) OVER/)).toBeGreaterThan(10)
  expect(ran(/^SELECT dev FROM \(SELECT (DISTINCT )?"d"\.device.*ORDER BY/s)).toBeGreaterThan(0)
})
