import type { Database } from '../../../db/client.ts'
import { healthRoutes } from '../../gateway/health.ts'

/** Mender's per-service liveness and health checks. */
export const inventoryInternalRoutes = (db: Database) => healthRoutes('inventory', db)
