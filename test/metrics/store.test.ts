import { outboxFor } from '../../src/events/outbox.ts'
import { createMetricsStore } from '../../src/metrics/store.ts'
import { artifacts } from '../../src/services/artifacts/tables.ts'
import { deployments } from '../../src/services/deployments/tables.ts'
import { devices } from '../../src/services/deviceauth/tables.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { metricsStoreContract } from './store.contract.ts'

const tables = {
  deviceauth_devices: devices,
  deployments_deployments: deployments,
  deployments_artifacts: artifacts,
}

metricsStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    store: createMetricsStore(db),
    async insert(table, rows) {
      db.insert(tables[table])
        .values(rows as never)
        .run()
    },
    async appendEvents(count) {
      const outbox = outboxFor(db)
      db.transaction(() => {
        for (let n = 0; n < count; n++)
          outbox.append({ tenantId: '', type: 'device-provisioned', subject: 'd', data: { n } })
      })
    },
    close,
  }
})
