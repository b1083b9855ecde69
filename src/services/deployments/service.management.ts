import type { Clock } from '../../clock.ts'
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../gateway/errors.ts'
import { type Paging, pageOffset } from '../../gateway/paging.ts'
import { type Ids, isUuid, requireUuid } from '../../ids.ts'
import { type ApiArtifact, toApiArtifact } from '../artifacts/model.ts'
import type { ArtifactsService } from '../artifacts/service.ts'
import type { InventoryService } from '../inventory/service.ts'
import { formatLog, toApiDeployment, toApiDeviceDeployment } from './render.ts'
import {
  checkInput,
  checksumOf,
  type DeploymentInput,
  idScope,
  type ListInput,
  parseListInput,
  parseStatusFilter,
} from './requests.ts'
import { type DeviceDeploymentStatus, emptyStats, type Stats, statusName } from './status.ts'
import type { DeviceDeploymentRow, DeviceDeploymentsStore } from './store.devices.ts'
import { type DeploymentRow, type DeploymentsStore, statsOf, statValues } from './store.ts'
import type { Transitions } from './transitions.ts'

/** What deployments needs from inventory: the accepted devices (of a group), a device's group, device search. */
/** What deployments needs from artifacts: the artifacts a deployment may hand out. */
export type DeploymentsArtifacts = Pick<ArtifactsService, 'findArtifactsByName' | 'findArtifactById'>

/** What deployments needs from inventory: the accepted devices (of a group), a device's group, device search. */
export type DeploymentsInventory = Pick<
  InventoryService,
  'listAcceptedDeviceIds' | 'getDevice' | 'searchDevices'
>

const MAX_STATISTICS_IDS = 100

/** The operator's API: making, listing, inspecting and aborting deployments; a device's history. */
export function createManagementApi(parts: {
  store: DeploymentsStore
  devices: DeviceDeploymentsStore
  artifacts: DeploymentsArtifacts
  transitions: Transitions
  inventory: DeploymentsInventory
  clock: Clock
  ids: Ids
}) {
  const { store, devices, artifacts, transitions, inventory, clock, ids } = parts

  /** Device deployments with the artifact each was given (Mender's `image`), each artifact read once. */
  function withImages(rows: DeviceDeploymentRow[]) {
    const images = new Map<string, ApiArtifact | undefined>()
    return rows.map((row) => {
      const id = row.artifactId
      if (id !== null && !images.has(id)) {
        const artifact = artifacts.findArtifactById(row.tenantId, id)
        images.set(id, artifact && toApiArtifact(artifact))
      }
      return toApiDeviceDeployment(row, id === null ? undefined : images.get(id))
    })
  }

  const render = (row: DeploymentRow) => toApiDeployment(row, () => store.listDeviceIds(row.tenantId, row.id))

  function requireDeployment(tenantId: string, id: string, message = 'Deployment not found'): DeploymentRow {
    requireUuid(id)
    const row = store.findDeployment(tenantId, id)
    if (!row) throw new NotFoundError(message)
    return row
  }

  /** The static group of the one device of a single-device deployment, as Mender records it. */
  function groupsOf(tenantId: string, deviceId: string): string[] {
    try {
      const { device } = inventory.getDevice(tenantId, deviceId)
      const group = device.attributes.find((a) => a.scope === 'system' && a.name === 'group')?.value
      return typeof group === 'string' ? [group] : []
    } catch (err) {
      if (err instanceof NotFoundError) return []
      throw err
    }
  }

  /**
   * Ends a device's part in every active deployment listing it: its unfinished device deployments,
   * and those it has not picked up yet (created after its newest finished one), get `status`.
   */
  function endForDevice(tenantId: string, deviceId: string, status: DeviceDeploymentStatus): void {
    store.transaction(() => {
      // Read before the active ones end: ending them must not move the device's "newest finished".
      const unstarted = devices.unstartedDeployments(tenantId, deviceId)
      const byId = new Map(store.findDeploymentsByIds(tenantId, unstarted).map((d) => [d.id, d]))
      for (const row of devices.listActiveForDevice(tenantId, deviceId)) transitions.setStatus(row, status)
      for (const id of unstarted) {
        const deployment = byId.get(id)
        if (deployment) transitions.create(deployment, deviceId, status)
      }
    })
  }

  async function findDeployments(tenantId: string, input: ListInput, paging: Paging) {
    const scope = idScope(input)
    const { query, none } = parseListInput(input)
    if (none) return { deployments: [], total: 0, hasNext: false }
    const page = () => {
      const rows = store.listDeployments(tenantId, query, pageOffset(paging), paging.perPage + 1)
      return { rows, total: store.countDeployments(tenantId, query) }
    }
    let { rows, total } = page()
    const first = input.name?.[0]
    if (total === 0 && first !== undefined && scope && input.id_attribute) {
      // No deployment has that name: it may be a device's, whose deployments are wanted.
      const found = await inventory.searchDevices(tenantId, {
        filters: [{ scope, name: input.id_attribute, op: '$eq', value: first }],
        sort: [],
        page: 1,
        perPage: 1,
      })
      const deviceId = found.devices[0]?.id
      if (deviceId === undefined) return { deployments: [], total: 0, hasNext: false }
      query.names = undefined
      query.forDevice = deviceId
      ;({ rows, total } = page())
    }
    return {
      deployments: rows.slice(0, paging.perPage).map(render),
      total,
      hasNext: rows.length > paging.perPage,
    }
  }

  return {
    createDeployment(tenantId: string, input: DeploymentInput): string {
      checkInput(input)
      const deviceIds =
        input.group !== undefined
          ? inventory.listAcceptedDeviceIds(tenantId, input.group)
          : input.all_devices
            ? inventory.listAcceptedDeviceIds(tenantId)
            : [...new Set(input.devices)]
      if (deviceIds.length === 0) throw new BadRequestError('No devices for the deployment')
      const found = artifacts.findArtifactsByName(tenantId, input.artifact_name)
      if (found.length === 0) throw new UnprocessableError('No artifact for the deployment')
      const groups =
        input.group !== undefined
          ? [input.group]
          : deviceIds.length === 1 && !input.all_devices
            ? groupsOf(tenantId, deviceIds[0]!)
            : []
      return store.transaction(() => {
        // Creation times are distinct per tenant: selection compares them ("newer than the device's last").
        const now = clock.now().getTime()
        const latest = store.latestCreated(tenantId)?.getTime() ?? 0
        const row: DeploymentRow = {
          id: ids.uuid(),
          tenantId,
          name: input.name,
          artifactName: input.artifact_name,
          created: new Date(Math.max(now, latest + 1)),
          finished: null,
          status: 'pending',
          deviceCount: 0,
          maxDevices: deviceIds.length,
          allDevices: input.all_devices === true,
          forceInstallation: input.force_installation === true,
          artifacts: found.map((a) => a.id),
          groups,
          target: input.group !== undefined ? 'group' : input.all_devices ? 'all' : 'devices',
          checksum: checksumOf(input, deviceIds),
          totalSize: 0,
          type: 'software',
          configuration: null,
          ...statValues({ ...emptyStats(), pending: deviceIds.length }),
        }
        if (!store.insertDeployment(row, deviceIds)) {
          throw new ConflictError(
            'Invalid deployment definition: there is already an active deployment with the same parameters',
          )
        }
        return row.id
      })
    },

    listDeployments: findDeployments,

    getDeployment: (tenantId: string, id: string) =>
      render(requireDeployment(tenantId, id, 'Resource not found')),

    getStatistics: (tenantId: string, id: string): Stats =>
      statsOf(requireDeployment(tenantId, id, 'Resource not found')),

    listStatistics(
      tenantId: string,
      ids: string[] | undefined,
    ): { id: string; stats: Stats }[] | Record<string, never> {
      if (!ids || ids.length === 0) return {}
      if (ids.length > MAX_STATISTICS_IDS) {
        throw new BadRequestError(`deployment_ids: the length must be between 1 and ${MAX_STATISTICS_IDS}.`)
      }
      const bad = ids.findIndex((id) => !isUuid(id))
      if (bad >= 0) throw new BadRequestError(`deployment_ids: (${bad}: must be a valid UUID.)`)
      const rows = store.findDeploymentsByIds(tenantId, ids)
      if (rows.length === 0) throw new NotFoundError('Deployment not found')
      return rows.map((row) => ({ id: row.id, stats: statsOf(row) }))
    },

    /** Every device deployment of a deployment (Mender's unpaged list). */
    listDeviceDeployments(tenantId: string, id: string) {
      requireDeployment(tenantId, id)
      return withImages(devices.listForDeployment(tenantId, id, undefined))
    },

    pageDeviceDeployments(tenantId: string, id: string, status: string | undefined, paging: Paging) {
      requireDeployment(tenantId, id)
      const codes = parseStatusFilter(status)
      const rows = devices.listForDeployment(tenantId, id, codes, {
        offset: pageOffset(paging),
        limit: paging.perPage,
      })
      return {
        devices: rows.map((row) => toApiDeviceDeployment(row)),
        total: devices.countForDeployment(tenantId, id, codes),
      }
    },

    deviceList: (tenantId: string, id: string): string[] =>
      store.listDeviceIds(tenantId, requireDeployment(tenantId, id, 'Resource not found').id),

    deviceLog(tenantId: string, deploymentId: string, deviceId: string): string {
      const messages = store.findLog(tenantId, deploymentId, deviceId)
      if (!messages) throw new NotFoundError('Resource not found')
      return formatLog(messages)
    },

    abortDeployment(tenantId: string, id: string, status: string): void {
      requireUuid(id)
      if (status !== 'aborted') throw new BadRequestError('Unexpected deployment status')
      store.transaction(() => {
        const row = store.findDeployment(tenantId, id)
        if (!row) throw new NotFoundError('Deployment not found')
        if (row.finished) throw new UnprocessableError('Deployment already finished')
        devices.abortActiveOfDeployment(tenantId, id)
        // Recounted from the device deployments: devices that never asked drop out of the counts.
        const stats = emptyStats()
        for (const { status: code, n } of devices.countByStatus(tenantId, id)) stats[statusName(code)] = n
        store.setStats(tenantId, id, stats)
        store.setStatus(tenantId, id, 'finished', clock.now())
      })
    },

    deviceHistory(tenantId: string, deviceId: string, status: string | undefined, paging: Paging) {
      const codes = parseStatusFilter(status)
      const rows = devices.listForDevice(tenantId, deviceId, codes, pageOffset(paging), paging.perPage)
      const byId = new Map(
        store
          .findDeploymentsByIds(tenantId, [...new Set(rows.map((row) => row.deploymentId))])
          .map((d) => [d.id, d]),
      )
      const rendered = withImages(rows)
      const items = rows.map((row, i) => {
        const deployment = byId.get(row.deploymentId)
        return {
          id: row.id,
          ...(deployment ? { deployment: render(deployment) } : {}),
          device: rendered[i]!,
        }
      })
      return { items, total: devices.countForDevice(tenantId, deviceId, codes) }
    },

    abortDeviceDeployments: (tenantId: string, deviceId: string): void =>
      endForDevice(tenantId, deviceId, 'aborted'),

    deleteDeviceHistory(tenantId: string, deviceId: string): void {
      devices.deleteHistory(tenantId, deviceId, clock.now())
    },

    /** The device is gone: its unfinished and not yet picked up deployments become `decommissioned`. */
    markDeviceDecommissioned: (tenantId: string, deviceId: string): void =>
      endForDevice(tenantId, deviceId, 'decommissioned'),
  }
}
