import { asc, eq } from 'drizzle-orm'
import { outboxEvents } from '../../src/events/tables.pg.ts'
import { createPgDeploymentsStore } from '../../src/services/deployments/store.pg.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('PostgreSQL', async (parts) => {
  const { db, close } = await openTestPgDatabase()
  const eventTypes = async (subject: string) =>
    (
      await db
        .select({ type: outboxEvents.type })
        .from(outboxEvents)
        .where(eq(outboxEvents.subject, subject))
        .orderBy(asc(outboxEvents.seq))
    ).map((row) => row.type)
  return { store: createPgDeploymentsStore(db, parts), eventTypes, close }
})
