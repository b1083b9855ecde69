import type { Database, Window } from '../../../db/client.ts'
import type { Clock } from '../../clock.ts'
import type { Ids } from '../../ids.ts'
import { findNextCandidate, type NextCandidate, type PickUp, type Selection, type Stale } from './pickup.ts'
import type { DeviceDeploymentStatus } from './status.ts'
import { runSync, type Steps } from './steps.ts'
import {
  type ChangeOutcome,
  createDeploymentChanges,
  type DeploymentChange,
  type PhasedPlan,
  type ReportOutcome,
} from './store.changes.ts'
import { createDeploymentRows, type DeploymentRow } from './store.deployments.ts'
import { createDeviceDeploymentRows, type DeviceDeploymentRow, type Unstarted } from './store.devices.ts'
import type { DeploymentQuery } from './store.query.ts'
import {
  createRolloutRows,
  type OverdueDevice,
  type PhaseRow,
  type RolloutLogEntry,
} from './store.rollout.ts'
import type { LogMessage } from './tables.ts'

/**
 * Deployments, their device lists and device deployments, phases and logs. Every change that must
 * be atomic is one method (a device's status report moves its deployment's counts, gates and
 * status with it); no transaction leaves the store.
 */
export interface DeploymentsStore {
  /**
   * The deployment the device would get now, with its device deployment there if it has one;
   * undefined when none. Reads nothing while the tenant has no active deployment.
   */
  findNext(tenantId: string, deviceId: string): Promise<NextCandidate | undefined>
  /**
   * The device picks `pick.deploymentId` up with the artifact chosen for it: its device deployment
   * is made or updated, and the counts move. `stale` when the candidate changed since it was read.
   */
  pickUp(pick: PickUp): Promise<Selection | Stale>
  /** A device's status report: its device deployment, the deployment's counts, gates and status move together. */
  reportStatus(
    tenantId: string,
    deviceId: string,
    deploymentId: string,
    status: DeviceDeploymentStatus,
    substate?: string,
  ): Promise<ReportOutcome>
  /** Stores the device's log (replacing an earlier one) and marks it available; false when it has no device deployment there. */
  saveLog(tenantId: string, deploymentId: string, deviceId: string, messages: LogMessage[]): Promise<boolean>
  /**
   * Makes the deployment with its device list and phases, opening the first when `openFirst`; its
   * creation time is made later than the tenant's newest. Undefined when an identical one is active.
   */
  createDeployment(
    row: DeploymentRow,
    deviceIds: readonly string[],
    plan: PhasedPlan,
  ): Promise<DeploymentRow | undefined>
  /** Makes a one-device configuration deployment; false when a deployment has its id. */
  createConfigurationDeployment(row: DeploymentRow, deviceId: string): Promise<boolean>
  /** Aborts, pauses or resumes the deployment, or answers why not. */
  changeStatus(tenantId: string, id: string, change: DeploymentChange): Promise<ChangeOutcome>
  /**
   * The device's unfinished device deployments and the deployments it has not started (the same
   * ones the poll would offer it) end in `status`. Repeating it changes nothing.
   */
  endForDevice(tenantId: string, deviceId: string, status: DeviceDeploymentStatus): Promise<void>
  /** Marks the device's finished device deployments deleted: they stay listed but stop counting for selection. */
  deleteHistory(tenantId: string, deviceId: string, at: Date): Promise<void>
  /** Every deployment the device has not started, oldest first, opened or not. */
  unstartedDeployments(tenantId: string, deviceId: string): Promise<Unstarted[]>

  /** One deployment, if it exists. */
  findDeployment(tenantId: string, id: string): Promise<DeploymentRow | undefined>
  /** A page of the deployments matching `query`, in its order. */
  listDeployments(
    tenantId: string,
    query: DeploymentQuery,
    offset: number,
    limit: number,
  ): Promise<DeploymentRow[]>
  /** How many deployments match `query`. */
  countDeployments(tenantId: string, query: DeploymentQuery): Promise<number>
  /** The deployments of these ids that exist, in no particular order. */
  findDeploymentsByIds(tenantId: string, ids: readonly string[]): Promise<DeploymentRow[]>
  /** The device list, in the order it was given. */
  listDeviceIds(tenantId: string, deploymentId: string): Promise<string[]>
  /** The device's log for the deployment, if it sent one. */
  findLog(tenantId: string, deploymentId: string, deviceId: string): Promise<LogMessage[] | undefined>
  /** Whether any deployment deploys artifacts of this name. */
  usesArtifactName(tenantId: string, name: string): Promise<boolean>
  /** Ids of the unfinished deployments of any of these artifact names. */
  activeDeploymentIds(tenantId: string, artifactNames: readonly string[]): Promise<string[]>
  /** The deployment's phases, in order. */
  listPhases(tenantId: string, deploymentId: string): Promise<PhaseRow[]>
  /** The deployment's rollout log, oldest first. */
  listLog(tenantId: string, deploymentId: string): Promise<RolloutLogEntry[]>
  /** A deployment's device deployments (of these status codes) by status, then device id (Mender's order). */
  listForDeployment(
    tenantId: string,
    deploymentId: string,
    codes: number[] | undefined,
    window?: Window,
  ): Promise<DeviceDeploymentRow[]>
  /** How many device deployments (of these status codes) the deployment has. */
  countForDeployment(tenantId: string, deploymentId: string, codes: number[] | undefined): Promise<number>
  /** A device's deployment history, deleted entries included: newest first, then by status code, descending. */
  listForDevice(
    tenantId: string,
    deviceId: string,
    codes: number[] | undefined,
    offset: number,
    limit: number,
  ): Promise<DeviceDeploymentRow[]>
  /** How many entries (of these status codes) the device's history has. */
  countForDevice(tenantId: string, deviceId: string, codes: number[] | undefined): Promise<number>

  /** Unopened phases of active, unpaused deployments whose start time has come, earliest first. */
  duePhases(now: Date, limit: number): Promise<PhaseRow[]>
  /** Opens a due phase if it is the next one and the success gate lets it (else holds it); true when opened. */
  openDuePhase(phase: PhaseRow): Promise<boolean>
  /** Device deployments in flight longer than their active deployment's timeout, not yet marked. */
  overdueInFlight(now: Date, limit: number): Promise<OverdueDevice[]>
  /** Marks the device deployment timed out and counts it as a failure for its phase's gates. */
  timeOut(device: OverdueDevice): Promise<void>
  /** The tenant's active dynamic deployments, oldest first. */
  activeDynamic(tenantId: string): Promise<DeploymentRow[]>
  /** Adds devices to an active dynamic deployment, in its last phase; answers how many joined. */
  joinDynamic(tenantId: string, deploymentId: string, deviceIds: readonly string[]): Promise<number>
}

/**
 * The deployments store on SQLite: prepared statements (store.deployments.ts, store.devices.ts,
 * store.rollout.ts) and, for each change, one synchronous transaction running the shared rules
 * (store.changes.ts) with `runSync`.
 */
export function createDeploymentsStore(db: Database, parts: { clock: Clock; ids: Ids }): DeploymentsStore {
  const rows = createDeploymentRows(db)
  const devices = createDeviceDeploymentRows(db)
  const rollout = createRolloutRows(db)
  const findNext = (tenantId: string, deviceId: string) =>
    findNextCandidate(rows, devices, tenantId, deviceId)
  const changes = createDeploymentChanges(rows, devices, rollout, findNext, parts.clock, parts.ids)
  /** Runs one change in one transaction; its row calls answer at once, so nothing inside awaits. */
  const atomic =
    <A extends unknown[], R>(change: (...args: A) => Steps<R>) =>
    async (...args: A): Promise<R> =>
      db.transaction(() => runSync(change(...args)))

  return {
    findNext: async (tenantId, deviceId) => findNext(tenantId, deviceId),
    pickUp: atomic(changes.pickUp),
    reportStatus: atomic(changes.reportStatus),
    saveLog: atomic(changes.saveLog),
    createDeployment: atomic(changes.createDeployment),
    createConfigurationDeployment: atomic(changes.createConfigurationDeployment),
    changeStatus: atomic(changes.changeStatus),
    endForDevice: atomic(changes.endForDevice),
    deleteHistory: async (tenantId, deviceId, at) => devices.deleteHistory(tenantId, deviceId, at),
    unstartedDeployments: async (tenantId, deviceId) => devices.unstartedDeployments(tenantId, deviceId),

    findDeployment: async (tenantId, id) => rows.findDeployment(tenantId, id),
    listDeployments: async (tenantId, query, offset, limit) =>
      rows.listDeployments(tenantId, query, offset, limit),
    countDeployments: async (tenantId, query) => rows.countDeployments(tenantId, query),
    findDeploymentsByIds: async (tenantId, ids) => rows.findDeploymentsByIds(tenantId, ids),
    listDeviceIds: async (tenantId, deploymentId) => rows.listDeviceIds(tenantId, deploymentId),
    findLog: async (tenantId, deploymentId, deviceId) => rows.findLog(tenantId, deploymentId, deviceId),
    usesArtifactName: async (tenantId, name) => rows.usesArtifactName(tenantId, name),
    activeDeploymentIds: async (tenantId, names) => rows.activeDeploymentIds(tenantId, names),
    listPhases: async (tenantId, deploymentId) => rollout.listPhases(tenantId, deploymentId),
    listLog: async (tenantId, deploymentId) => rollout.listLog(tenantId, deploymentId),
    listForDeployment: async (tenantId, deploymentId, codes, window) =>
      devices.listForDeployment(tenantId, deploymentId, codes, window),
    countForDeployment: async (tenantId, deploymentId, codes) =>
      devices.countForDeployment(tenantId, deploymentId, codes),
    listForDevice: async (tenantId, deviceId, codes, offset, limit) =>
      devices.listForDevice(tenantId, deviceId, codes, offset, limit),
    countForDevice: async (tenantId, deviceId, codes) => devices.countForDevice(tenantId, deviceId, codes),

    duePhases: async (now, limit) => rollout.duePhases(now, limit),
    openDuePhase: atomic(changes.openDuePhase),
    overdueInFlight: async (now, limit) => rollout.overdueInFlight(now, limit),
    timeOut: atomic(changes.timeOut),
    activeDynamic: async (tenantId) => rows.activeDynamic(tenantId),
    joinDynamic: atomic(changes.joinDynamic),
  }
}
