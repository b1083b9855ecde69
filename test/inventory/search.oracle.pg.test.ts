import { createPgInventoryStore } from '../../src/services/inventory/store.pg.ts'
import { createPgInventorySearchStore } from '../../src/services/inventory/store.search.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { searchOracle } from './search.oracle.ts'

searchOracle(
  'PostgreSQL',
  async () => {
    const { db, close } = await openTestPgDatabase()
    return { store: createPgInventoryStore(db), search: createPgInventorySearchStore(db).search, close }
  },
  // Fewer devices than SQLite's run: each is several transactions of round trips to the server.
  { devices: 800, searches: 250 },
)
