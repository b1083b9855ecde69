import type { Database } from '../db/client.ts'
import type { Clock } from './clock.ts'
import { type EventsEngine, sqliteEvents } from './events/engine.ts'
import type { Ids } from './ids.ts'
import { createRetentionStore, type RetentionStore } from './retention/store.ts'
import { createReleasesStore, type ReleasesStore } from './services/artifacts/store.releases.ts'
import { type ArtifactsStore, createArtifactsStore } from './services/artifacts/store.ts'
import { createDeploymentsStore, type DeploymentsStore } from './services/deployments/store.ts'
import {
  createDeviceauthStore,
  type DeviceauthStore,
  type RevocationCounter,
} from './services/deviceauth/store.ts'
import { createDeviceconfigStore, type DeviceconfigStore } from './services/deviceconfig/store.ts'
import { createDeviceconnectStore, type DeviceconnectStore } from './services/deviceconnect/store.ts'
import { createSavedFiltersStore, type SavedFiltersStore } from './services/inventory/store.filters.ts'
import { createInventoryStore, type InventoryStore } from './services/inventory/store.ts'
import { createIotManagerStore, type IotManagerStore } from './services/iot-manager/store.ts'
import { createUseradmStore, type UseradmStore } from './services/useradm/store.ts'

/**
 * Every store of the app on one engine: the only place that picks SQLite or PostgreSQL. Services
 * take their store from here and never learn which engine it is.
 */
export type Stores = {
  engine: 'sqlite' | 'postgres'
  events: EventsEngine
  useradm: UseradmStore
  /** Deviceauth's store bumps the service's revocation counter, so the service makes it first. */
  deviceauth(revocations: RevocationCounter): DeviceauthStore
  inventory: InventoryStore
  savedFilters: SavedFiltersStore
  deployments: DeploymentsStore
  artifacts: ArtifactsStore
  releases: ReleasesStore
  deviceconnect: DeviceconnectStore
  deviceconfig: DeviceconfigStore
  iotManager: IotManagerStore
  retention: RetentionStore
}

/** What some stores need besides the database: the app's clock and id source. */
export type StoreParts = { clock: Clock; ids: Ids }

/** The stores of a SQLite database. */
export function sqliteStores(db: Database, parts: StoreParts): Stores {
  return {
    engine: 'sqlite',
    events: sqliteEvents(db),
    useradm: createUseradmStore(db),
    deviceauth: (revocations) => createDeviceauthStore(db, revocations),
    inventory: createInventoryStore(db),
    savedFilters: createSavedFiltersStore(db),
    deployments: createDeploymentsStore(db, parts),
    artifacts: createArtifactsStore(db),
    releases: createReleasesStore(db),
    deviceconnect: createDeviceconnectStore(db),
    deviceconfig: createDeviceconfigStore(db),
    iotManager: createIotManagerStore(db),
    retention: createRetentionStore(db),
  }
}
