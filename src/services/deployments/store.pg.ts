import type { PgDatabase } from '../../../db/pg.ts'
import type { Clock } from '../../clock.ts'
import { pgOutboxFor } from '../../events/outbox.pg.ts'
import type { Ids } from '../../ids.ts'
import type { DeploymentEvent } from './events.ts'
import { runAsync, type Steps } from './steps.ts'
import { createDeploymentChanges, type DeploymentChanges } from './store.changes.ts'
import { createPgDeploymentRows, type PgQueries } from './store.deployments.pg.ts'
import { createPgDeviceDeploymentRows, pollQuery, toCandidate } from './store.devices.pg.ts'
import { createPgRolloutRows } from './store.rollout.pg.ts'
import type { DeploymentsStore } from './store.ts'

/** Every row set on one handle (the pool for reads, a change's transaction for changes). */
function pgRowsOn(q: PgQueries, events: DeploymentEvent[]) {
  return {
    rows: createPgDeploymentRows(q, events),
    devices: createPgDeviceDeploymentRows(q, events),
    rollout: createPgRolloutRows(q, events),
  }
}

/**
 * The deployments store on PostgreSQL (see store.ts for what each method promises). A change is
 * one transaction running the same rules as SQLite's (store.changes.ts) with `runAsync`; the
 * rules hold the rows they decide on (the device, then its deployments, in one order), so several
 * instances writing the same rows take turns instead of both deciding from one read. The events
 * a change wrote go to the outbox as its last step, as the outbox asks.
 */
export function createPgDeploymentsStore(
  db: PgDatabase,
  parts: { clock: Clock; ids: Ids },
): DeploymentsStore {
  const outbox = pgOutboxFor(db)
  // Reads write nothing: their event list stays empty.
  const { rows, devices, rollout } = pgRowsOn(db, [])
  // The poll is the hot path: one prepared statement, one round trip.
  const poll = pollQuery(db).prepare('deployments_poll')

  /** Runs `pick`'s change in one transaction, its events appended last. */
  const atomic =
    <A extends unknown[], R>(pick: (changes: DeploymentChanges) => (...args: A) => Steps<R>) =>
    (...args: A): Promise<R> =>
      db.transaction(async (tx) => {
        const events: DeploymentEvent[] = []
        const on = pgRowsOn(tx, events)
        const changes = createDeploymentChanges(
          on.rows,
          on.devices,
          on.rollout,
          on.devices.findNext,
          parts.clock,
          parts.ids,
        )
        const result = await runAsync(pick(changes)(...args))
        await outbox.appendAll(tx, events)
        return result
      })

  return {
    findNext: async (tenantId, deviceId) => toCandidate((await poll.execute({ tenantId, deviceId }))[0]),
    pickUp: atomic((c) => c.pickUp),
    reportStatus: atomic((c) => c.reportStatus),
    saveLog: atomic((c) => c.saveLog),
    createDeployment: atomic((c) => c.createDeployment),
    createConfigurationDeployment: atomic((c) => c.createConfigurationDeployment),
    changeStatus: atomic((c) => c.changeStatus),
    endForDevice: atomic((c) => c.endForDevice),
    deleteHistory: (tenantId, deviceId, at) => devices.deleteHistory(tenantId, deviceId, at),
    unstartedDeployments: (tenantId, deviceId) => devices.unstartedDeployments(tenantId, deviceId),

    findDeployment: (tenantId, id) => rows.findDeployment(tenantId, id),
    listDeployments: (tenantId, query, offset, limit) => rows.listDeployments(tenantId, query, offset, limit),
    countDeployments: (tenantId, query) => rows.countDeployments(tenantId, query),
    findDeploymentsByIds: (tenantId, ids) => rows.findDeploymentsByIds(tenantId, ids),
    listDeviceIds: (tenantId, deploymentId) => rows.listDeviceIds(tenantId, deploymentId),
    findLog: (tenantId, deploymentId, deviceId) => rows.findLog(tenantId, deploymentId, deviceId),
    usesArtifactName: (tenantId, name) => rows.usesArtifactName(tenantId, name),
    activeDeploymentIds: (tenantId, names) => rows.activeDeploymentIds(tenantId, names),
    listPhases: (tenantId, deploymentId) => rollout.listPhases(tenantId, deploymentId),
    listLog: (tenantId, deploymentId) => rollout.listLog(tenantId, deploymentId),
    listForDeployment: (tenantId, deploymentId, codes, window) =>
      devices.listForDeployment(tenantId, deploymentId, codes, window),
    countForDeployment: (tenantId, deploymentId, codes) =>
      devices.countForDeployment(tenantId, deploymentId, codes),
    listForDevice: (tenantId, deviceId, codes, offset, limit) =>
      devices.listForDevice(tenantId, deviceId, codes, offset, limit),
    countForDevice: (tenantId, deviceId, codes) => devices.countForDevice(tenantId, deviceId, codes),

    duePhases: (now, limit) => rollout.duePhases(now, limit),
    openDuePhase: atomic((c) => c.openDuePhase),
    overdueInFlight: (now, limit) => rollout.overdueInFlight(now, limit),
    timeOut: atomic((c) => c.timeOut),
    activeDynamic: (tenantId) => rows.activeDynamic(tenantId),
    joinDynamic: atomic((c) => c.joinDynamic),
  }
}
