import { asc } from 'drizzle-orm'
import { createRetentionStore } from '../../src/retention/store.ts'
import { deploymentLogs, deployments, deviceDeployments } from '../../src/services/deployments/tables.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { retentionStoreContract } from './store.contract.ts'

const tables = {
  deployments_deployments: deployments,
  deployments_device_deployments: deviceDeployments,
  deployments_device_logs: deploymentLogs,
}

retentionStoreContract('SQLite', async () => {
  const { db, close } = await openTestDatabase()
  return {
    store: createRetentionStore(db),
    async insert(table, rows) {
      db.insert(tables[table])
        .values(rows as never)
        .run()
    },
    async remaining() {
      const left = db.select().from(deviceDeployments).orderBy(asc(deviceDeployments.seq)).all()
      const logs = db.select().from(deploymentLogs).all()
      return {
        deviceDeployments: left.map((row) => [row.id, row.log]),
        logs: logs.map((row) => `${row.deploymentId}/${row.deviceId}`),
      }
    },
    close,
  }
})
