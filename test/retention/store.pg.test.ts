import { asc } from 'drizzle-orm'
import { createPgRetentionStore } from '../../src/retention/store.pg.ts'
import { deploymentLogs, deployments, deviceDeployments } from '../../src/services/deployments/tables.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { retentionStoreContract } from './store.contract.ts'

const tables = {
  deployments_deployments: deployments,
  deployments_device_deployments: deviceDeployments,
  deployments_device_logs: deploymentLogs,
}

retentionStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return {
    store: createPgRetentionStore(db),
    async insert(table, rows) {
      await db.insert(tables[table]).values(rows as never)
    },
    async remaining() {
      const left = await db.select().from(deviceDeployments).orderBy(asc(deviceDeployments.seq))
      const logs = await db.select().from(deploymentLogs)
      return {
        deviceDeployments: left.map((row) => [row.id, row.log]),
        logs: logs.map((row) => `${row.deploymentId}/${row.deviceId}`),
      }
    },
    close,
  }
})
