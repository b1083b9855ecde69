import { asc, eq } from 'drizzle-orm'
import { outboxEvents } from '../../src/events/tables.ts'
import { createDeploymentsStore } from '../../src/services/deployments/store.ts'
import { openTestDatabase } from '../helpers/database.ts'
import { deploymentsStoreContract } from './store.contract.ts'

deploymentsStoreContract('SQLite', async (parts) => {
  const { db, close } = await openTestDatabase()
  const eventTypes = async (subject: string) =>
    db
      .select({ type: outboxEvents.type })
      .from(outboxEvents)
      .where(eq(outboxEvents.subject, subject))
      .orderBy(asc(outboxEvents.seq))
      .all()
      .map((row) => row.type)
  return { store: createDeploymentsStore(db, parts), eventTypes, close }
})
