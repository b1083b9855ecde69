import { runPgMigrations } from '../db/migrate.pg.ts'
import { openPgDatabase, pingPgDatabase } from '../db/pg.ts'
import type { Engine } from './engine.ts'
import { pgOutboxFor } from './events/outbox.pg.ts'
import { createPgEventsStore } from './events/store.pg.ts'
import { cachedGauges } from './metrics/gauges.ts'
import { createPgMetricsStore } from './metrics/store.pg.ts'
import { createPgRetentionStore } from './retention/store.pg.ts'
import { createPgArtifactsStore } from './services/artifacts/store.pg.ts'
import { createPgReleasesStore } from './services/artifacts/store.releases.pg.ts'
import { createPgDeploymentsStore } from './services/deployments/store.pg.ts'
import { createPgDeviceauthStore } from './services/deviceauth/store.pg.ts'
import { createPgDeviceconfigStore } from './services/deviceconfig/store.pg.ts'
import { createPgDeviceconnectStore } from './services/deviceconnect/store.pg.ts'
import { createPgSavedFiltersStore } from './services/inventory/store.filters.pg.ts'
import { createPgInventoryStore } from './services/inventory/store.pg.ts'
import { createPgInventorySearchStore } from './services/inventory/store.search.pg.ts'
import { createPgIotManagerStore } from './services/iot-manager/store.pg.ts'
import { createPgUseradmStore } from './services/useradm/store.pg.ts'
import type { StoreParts } from './stores.ts'

/**
 * The PostgreSQL engine (BENDER_DATABASE_URL): migrates under the migration lock (instances
 * starting together migrate once), then one pool for every store. Loaded only when selected, so a
 * SQLite start never loads the driver.
 */
export async function openPgEngine(url: string, poolSize: number, parts: StoreParts): Promise<Engine> {
  await runPgMigrations(url)
  const db = await openPgDatabase(url, { max: poolSize })
  const outbox = pgOutboxFor(db)
  const metrics = createPgMetricsStore(db)
  return {
    database: {
      ping: () => pingPgDatabase(db),
      openCluster: async (log) => (await import('./cluster/cluster.pg.ts')).pgCluster(db, url, log),
      metricsSource: async () => ({
        // PostgreSQL counts on its own backend: no worker needed to keep this thread free.
        fleet: cachedGauges(() => metrics.fleetGauges()),
        databaseBytes: async () => {
          const [row] = (await db.$client`SELECT pg_database_size(current_database())::float8 AS bytes`) as [
            { bytes: number },
          ]
          return row.bytes
        },
      }),
      close: () => db.$client.close(),
    },
    stores: {
      engine: 'postgres',
      events: { store: createPgEventsStore(db), outbox },
      useradm: createPgUseradmStore(db),
      deviceauth: (revocations) => createPgDeviceauthStore(db, revocations),
      inventory: createPgInventoryStore(db),
      inventorySearch: createPgInventorySearchStore(db),
      savedFilters: createPgSavedFiltersStore(db),
      deployments: createPgDeploymentsStore(db, parts),
      artifacts: createPgArtifactsStore(db),
      releases: createPgReleasesStore(db),
      deviceconnect: createPgDeviceconnectStore(db),
      deviceconfig: createPgDeviceconfigStore(db),
      iotManager: createPgIotManagerStore(db),
      retention: createPgRetentionStore(db),
    },
  }
}
