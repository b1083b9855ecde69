import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { DeploymentStatus } from './status.ts'

/** How the device list was chosen: given ids, a static group (the one in `groups`), or every accepted device. */
export type DeploymentTarget = 'devices' | 'group' | 'all'

export type DeploymentType = 'software' | 'configuration'

const stat = () => integer().notNull().default(0)

/**
 * Deployments. The per-status device counts are columns, moved with `x = x + 1` in the transaction
 * of each status change, so reading them never counts rows. `finished` is set exactly when the
 * deployment is no longer active: a partial index over the active ones answers "any active
 * deployment at all?" (the poll's short-circuit) and makes a second identical active deployment a
 * unique-constraint conflict.
 */
export const deployments = sqliteTable(
  'deployments_deployments',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    artifactName: text().notNull(),
    created: integer({ mode: 'timestamp_ms' }).notNull(),
    finished: integer({ mode: 'timestamp_ms' }),
    status: text().$type<DeploymentStatus>().notNull(),
    /** Devices that picked the deployment up (device deployments created). */
    deviceCount: integer().notNull().default(0),
    /** The size of the device list. */
    maxDevices: integer().notNull(),
    allDevices: integer({ mode: 'boolean' }).notNull().default(false),
    forceInstallation: integer({ mode: 'boolean' }).notNull().default(false),
    /** Ids of the artifacts named `artifactName` at creation, and of any assigned to a device later. */
    artifacts: text({ mode: 'json' }).$type<string[]>().notNull(),
    groups: text({ mode: 'json' }).$type<string[]>().notNull(),
    /**
     * What Mender's `filter` is rebuilt from. Not the filter itself: for a list of devices that would
     * repeat the list inside this row, which every count update rewrites whole.
     */
    target: text().$type<DeploymentTarget>().notNull(),
    /** SHA-256 of the request that made it (name, artifact, device list, flags): identical active ones conflict. */
    checksum: text().notNull(),
    /** Bytes of the artifacts handed to devices, each counted once per device. */
    totalSize: integer().notNull().default(0),
    /** `configuration`: a device configuration made by deviceconfig, whose artifact is generated per device type. */
    type: text().$type<DeploymentType>().notNull().default('software'),
    /** The configuration (a JSON object of strings) of a `configuration` deployment. */
    configuration: text({ mode: 'json' }).$type<Record<string, string>>(),
    statSuccess: stat(),
    statPending: stat(),
    statDownloading: stat(),
    statRebooting: stat(),
    statInstalling: stat(),
    statFailure: stat(),
    statNoartifact: stat(),
    statAlreadyInstalled: stat(),
    statAborted: stat(),
    statPauseBeforeInstalling: stat(),
    statPauseBeforeCommitting: stat(),
    statPauseBeforeRebooting: stat(),
    statDecommissioned: stat(),
  },
  (t) => [
    index('deployments_deployments_created').on(t.tenantId, t.created),
    index('deployments_deployments_artifact_name').on(t.tenantId, t.artifactName),
    uniqueIndex('deployments_deployments_active').on(t.tenantId, t.checksum).where(sql`finished IS NULL`),
  ],
)

/**
 * The device list of each deployment, fixed at creation, one row per device. Keyed for the poll:
 * a device's entries in creation order, so "the oldest deployment listing me created after X" is
 * one index seek. `created` is the deployment's.
 */
export const deploymentDevices = sqliteTable(
  'deployments_deployment_devices',
  {
    tenantId: text().notNull().default(''),
    deviceId: text().notNull(),
    created: integer().notNull(),
    deploymentId: text().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.deviceId, t.created, t.deploymentId] }),
    index('deployments_deployment_devices_deployment').on(t.tenantId, t.deploymentId),
  ],
)

/**
 * One device's part in one deployment, created when the device first asks for it (or when it is
 * aborted or decommissioned before it asked). `status` is a code in Mender's status order (see
 * status.ts); `active` is true exactly while that status is unfinished. `created` is the
 * deployment's creation time, as in Mender, which is what "newer than the device's last
 * deployment" compares. The two partial indexes are the poll's: the device's unfinished device
 * deployment, and the newest finished one that was not deleted from its history.
 */
export const deviceDeployments = sqliteTable(
  'deployments_device_deployments',
  {
    seq: integer().primaryKey(),
    /** Mender's device deployment id (shown in a device's deployment history). */
    id: text().notNull(),
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    deviceId: text().notNull(),
    status: integer().notNull(),
    active: integer({ mode: 'boolean' }).notNull(),
    created: integer({ mode: 'timestamp_ms' }).notNull(),
    started: integer({ mode: 'timestamp_ms' }),
    finished: integer({ mode: 'timestamp_ms' }),
    /** Set when the operator deletes the device's history: kept, but no longer counts for selection. */
    deleted: integer({ mode: 'timestamp_ms' }),
    substate: text(),
    log: integer({ mode: 'boolean' }).notNull().default(false),
    /** The artifact chosen for the device, once it asked with its device type. */
    artifactId: text(),
    /** The device's first request (artifact name, device type) as JSON: a different later one is a conflict. */
    request: text(),
  },
  (t) => [
    index('deployments_device_deployments_device').on(t.tenantId, t.deviceId, t.deploymentId),
    index('deployments_device_deployments_deployment').on(t.tenantId, t.deploymentId, t.status, t.deviceId),
    index('deployments_device_deployments_active')
      .on(t.tenantId, t.deviceId, t.created)
      .where(sql`active = 1`),
    index('deployments_device_deployments_last')
      .on(t.tenantId, t.deviceId, t.created)
      .where(sql`active = 0 AND deleted IS NULL`),
    // The retention purge walks finished history oldest first.
    index('deployments_device_deployments_finished').on(t.finished, t.seq).where(sql`active = 0`),
  ],
)

export type LogMessage = { timestamp: string; level: string; message: string }

/** A device's deployment log (the client uploads one after a failure); a new upload replaces it. */
export const deploymentLogs = sqliteTable(
  'deployments_device_logs',
  {
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    deviceId: text().notNull(),
    messages: text({ mode: 'json' }).$type<LogMessage[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.deploymentId, t.deviceId] })],
)
