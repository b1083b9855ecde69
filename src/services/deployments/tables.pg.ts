import { sql } from 'drizzle-orm'
import { boolean, index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { int, json, ms } from '../../../db/pg-columns.ts'
import type { RolloutPolicy } from './policy.ts'
import type { DeploymentStatus } from './status.ts'
import type { DeploymentTarget, DeploymentType, LogMessage } from './tables.ts'

const stat = () => int().notNull().default(0)
const flag = () => boolean().notNull().default(false)

/** The deployments' tables on PostgreSQL (see tables.ts). */
export const deployments = pgTable(
  'deployments_deployments',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    name: text().notNull(),
    artifactName: text().notNull(),
    created: ms().notNull(),
    finished: ms(),
    status: text().$type<DeploymentStatus>().notNull(),
    deviceCount: int().notNull().default(0),
    maxDevices: int().notNull(),
    allDevices: flag(),
    forceInstallation: flag(),
    artifacts: json().$type<string[]>().notNull(),
    groups: json().$type<string[]>().notNull(),
    target: text().$type<DeploymentTarget>().notNull(),
    checksum: text().notNull(),
    totalSize: int().notNull().default(0),
    type: text().$type<DeploymentType>().notNull().default('software'),
    configuration: json().$type<Record<string, string>>(),
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
    phaseCount: int().notNull().default(0),
    openPhases: int().notNull().default(1),
    retries: int().notNull().default(0),
    policy: json().$type<RolloutPolicy>(),
    pausedAt: ms(),
    pauseReason: text(),
    gateTripped: flag(),
    dynamic: flag(),
    filter: json().$type<{
      id: string
      name: string
      terms: { scope: string; attribute: string; type: string; value: unknown }[]
    }>(),
    initialDeviceCount: int().notNull().default(0),
  },
  (t) => [
    index('deployments_deployments_created').on(t.tenantId, t.created),
    index('deployments_deployments_artifact_name').on(t.tenantId, t.artifactName),
    uniqueIndex('deployments_deployments_active').on(t.tenantId, t.checksum).where(sql`finished IS NULL`),
  ],
)

export const deploymentDevices = pgTable(
  'deployments_deployment_devices',
  {
    tenantId: text().notNull().default(''),
    deviceId: text().notNull(),
    /** The deployment's creation time in Unix milliseconds, as in SQLite. */
    created: int().notNull(),
    deploymentId: text().notNull(),
    phase: int().notNull().default(0),
    position: int().notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.deviceId, t.created, t.deploymentId] }),
    index('deployments_deployment_devices_deployment').on(t.tenantId, t.deploymentId),
  ],
)

export const deviceDeployments = pgTable(
  'deployments_device_deployments',
  {
    seq: int().primaryKey().generatedByDefaultAsIdentity(),
    id: text().notNull(),
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    deviceId: text().notNull(),
    status: int().notNull(),
    active: boolean().notNull(),
    created: ms().notNull(),
    started: ms(),
    finished: ms(),
    deleted: ms(),
    substate: text(),
    log: flag(),
    artifactId: text(),
    request: text(),
    phase: int().notNull().default(0),
    attempts: int().notNull().default(1),
    timedOut: flag(),
  },
  (t) => [
    index('deployments_device_deployments_device').on(t.tenantId, t.deviceId, t.deploymentId),
    index('deployments_device_deployments_deployment').on(t.tenantId, t.deploymentId, t.status, t.deviceId),
    index('deployments_device_deployments_active').on(t.tenantId, t.deviceId, t.created).where(sql`active`),
    index('deployments_device_deployments_last')
      .on(t.tenantId, t.deviceId, t.created)
      .where(sql`NOT active AND deleted IS NULL`),
    index('deployments_device_deployments_finished').on(t.finished, t.seq).where(sql`NOT active`),
  ],
)

export const deploymentLogs = pgTable(
  'deployments_device_logs',
  {
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    deviceId: text().notNull(),
    messages: json().$type<LogMessage[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.deploymentId, t.deviceId] })],
)

export const deploymentPhases = pgTable(
  'deployments_phases',
  {
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    idx: int().notNull(),
    id: text().notNull(),
    batchSize: int(),
    batchSizeDevices: int(),
    startTs: ms().notNull(),
    size: int().notNull(),
    deviceCount: int().notNull().default(0),
    opened: ms(),
    finished: int().notNull().default(0),
    failed: int().notNull().default(0),
    succeeded: int().notNull().default(0),
    held: flag(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.deploymentId, t.idx] }),
    index('deployments_phases_due').on(t.startTs).where(sql`opened IS NULL`),
  ],
)

export const rolloutLog = pgTable(
  'deployments_rollout_log',
  {
    seq: int().primaryKey().generatedByDefaultAsIdentity(),
    tenantId: text().notNull().default(''),
    deploymentId: text().notNull(),
    time: ms().notNull(),
    kind: text().notNull(),
    phase: int(),
    reason: text().notNull(),
  },
  (t) => [index('deployments_rollout_log_deployment').on(t.tenantId, t.deploymentId, t.seq)],
)
