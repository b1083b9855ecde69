import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { RolloutPolicy } from './policy.ts'
import type { DeploymentStatus } from './status.ts'

/**
 * How the device list was chosen: given ids, a static group (the one in `groups`), every accepted
 * device, or a saved filter (dynamic).
 */
export type DeploymentTarget = 'devices' | 'group' | 'all' | 'filter'

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
    /** Declared phases (0: none, the device list is one phase open from the start). */
    phaseCount: integer().notNull().default(0),
    /** Phases opened so far: the poll hands the deployment to devices of phases below this. */
    openPhases: integer().notNull().default(1),
    /** How many more times a device that failed is offered the deployment. */
    retries: integer().notNull().default(0),
    /** The rollout policy (gates, timeout), as given; null when none. */
    policy: text({ mode: 'json' }).$type<RolloutPolicy>(),
    /** Set while paused: no device that has not started gets the deployment. */
    pausedAt: integer({ mode: 'timestamp_ms' }),
    pauseReason: text(),
    /** A failure gate paused it: resuming needs an explicit override. */
    gateTripped: integer({ mode: 'boolean' }).notNull().default(false),
    /**
     * A dynamic deployment (v2 with `filter_id`): devices that come to match its saved filter join
     * its device list while it is active; `maxDevices` is then the cap given (0: none).
     */
    dynamic: integer({ mode: 'boolean' }).notNull().default(false),
    /** The saved filter of a dynamic deployment as it was at creation. */
    filter: text({ mode: 'json' }).$type<{
      id: string
      name: string
      terms: { scope: string; attribute: string; type: string; value: unknown }[]
    }>(),
    /** Devices matching the filter at creation. */
    initialDeviceCount: integer().notNull().default(0),
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
    /** The device's phase (its index), fixed at creation. */
    phase: integer().notNull().default(0),
    /** Its place in the list as given (devices joining a dynamic deployment come after). */
    position: integer().notNull().default(0),
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
    /** The device's phase in the deployment. */
    phase: integer().notNull().default(0),
    /** Attempts so far (a retry after a failure starts the next one). */
    attempts: integer().notNull().default(1),
    /** Stayed in flight past the policy's timeout: counted as failed by the gates. */
    timedOut: integer({ mode: 'boolean' }).notNull().default(false),
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

/**
 * The phases of a phased deployment (or of one with a rollout policy: one phase then), with the
 * counters its gates read. Each status write moves these with `+ 1`, so a gate check never counts rows.
 */
export const deploymentPhases = sqliteTable(
  'deployments_phases',
  {
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    idx: integer().notNull(),
    id: text().notNull(),
    /** As requested: a percentage of the devices, or a count of devices (null: the rest). */
    batchSize: integer(),
    batchSizeDevices: integer(),
    startTs: integer({ mode: 'timestamp_ms' }).notNull(),
    /** Devices assigned to the phase. */
    size: integer().notNull(),
    /** Devices of the phase that picked the deployment up. */
    deviceCount: integer().notNull().default(0),
    opened: integer({ mode: 'timestamp_ms' }),
    /** Devices of the phase whose (last) attempt ended in success or failure, timed out ones included. */
    finished: integer().notNull().default(0),
    failed: integer().notNull().default(0),
    succeeded: integer().notNull().default(0),
    /** The success gate held the phase closed (recorded once). */
    held: integer({ mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.deploymentId, t.idx] }),
    index('deployments_phases_due').on(t.startTs).where(sql`opened IS NULL`),
  ],
)

/** What happened to a deployment's rollout (phase openings, gates, pauses), in order. */
export const rolloutLog = sqliteTable(
  'deployments_rollout_log',
  {
    seq: integer().primaryKey(),
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    time: integer({ mode: 'timestamp_ms' }).notNull(),
    kind: text().notNull(),
    phase: integer(),
    reason: text().notNull(),
  },
  (t) => [index('deployments_rollout_log_deployment').on(t.tenantId, t.deploymentId, t.seq)],
)
