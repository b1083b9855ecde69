import { pgOutboxFor } from '../../src/events/outbox.pg.ts'
import { createPgEventsStore } from '../../src/events/store.pg.ts'
import { createPgMetricsStore } from '../../src/metrics/store.pg.ts'
import { artifacts } from '../../src/services/artifacts/tables.pg.ts'
import { deployments } from '../../src/services/deployments/tables.pg.ts'
import { devices } from '../../src/services/deviceauth/tables.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { metricsStoreContract } from './store.contract.ts'

const tables = {
  deviceauth_devices: devices,
  deployments_deployments: deployments,
  deployments_artifacts: artifacts,
}

metricsStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return {
    store: createPgMetricsStore(db),
    async insert(table, rows) {
      await db.insert(tables[table]).values(rows as never)
    },
    async appendEvents(count) {
      const outbox = pgOutboxFor(db)
      await db.transaction(async (tx) => {
        for (let n = 0; n < count; n++)
          await outbox.append(tx, { tenantId: '', type: 'device-provisioned', subject: 'd', data: { n } })
      })
    },
    saveCursor: (name, seq) => createPgEventsStore(db).saveCursor(name, seq),
    close,
  }
})
