import { ALL_STATUS_CODES } from '../../src/services/inventory/model.ts'
import { createInventoryStore } from '../../src/services/inventory/store.ts'
import { textCondition } from '../../src/services/inventory/text.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { inventoryStoreContract } from './store.contract.ts'

inventoryStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    store: createInventoryStore(db),
    textMatches: (tenantId, word) =>
      db.all(textCondition([word], tenantId, ALL_STATUS_CODES).devices!).length,
    close,
  }
})
