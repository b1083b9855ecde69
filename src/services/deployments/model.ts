import { type Static, t } from 'elysia'
import { pagingQuery } from '../../gateway/paging.ts'
import { ArtifactsModel } from '../artifacts/model.ts'
import { DEVICE_DEPLOYMENT_STATUSES } from './status.ts'

const timestamp = t.String({ format: 'date-time' })
const count = (description: string) => t.Integer({ description })

const statistics = t.Object(
  Object.fromEntries(
    DEVICE_DEPLOYMENT_STATUSES.map((status) => [status, count(`Devices in status ${status}.`)]),
  ),
  { description: 'Devices per device deployment status; every key is always present.' },
)

const filter = t.Object({
  id: t.String(),
  name: t.String(),
  terms: t.Array(
    t.Object({ scope: t.String(), attribute: t.String(), type: t.String(), value: t.Unknown() }),
  ),
})

const deployment = t.Object({
  id: t.String(),
  name: t.String(),
  artifact_name: t.String(),
  created: timestamp,
  finished: t.Optional(timestamp),
  status: t.Union([t.Literal('pending'), t.Literal('inprogress'), t.Literal('finished')]),
  device_count: count('Devices that picked the deployment up.'),
  max_devices: count('Devices the deployment was made for.'),
  artifacts: t.Optional(t.Array(t.String(), { description: 'Ids of the artifacts deployed.' })),
  groups: t.Optional(t.Array(t.String())),
  filter,
  type: t.Union([t.Literal('software'), t.Literal('configuration')]),
  statistics: t.Object({
    status: statistics,
    total_size: count('Bytes of the artifacts handed to devices, counted per device.'),
  }),
  all_devices: t.Optional(t.Boolean()),
  force_installation: t.Optional(t.Boolean()),
})

const deviceDeployment = t.Object({
  id: t.String({ description: 'The device id.' }),
  status: t.String(),
  created: timestamp,
  started: t.Optional(timestamp),
  finished: t.Optional(timestamp),
  deleted: t.Optional(timestamp),
  substate: t.Optional(t.String()),
  log: t.Boolean({ description: 'Whether the device uploaded a deployment log.' }),
  image: t.Optional(ArtifactsModel.artifact),
})

const provides = t.Object({
  artifact_name: t.String({ description: 'The artifact the device runs.' }),
  device_type: t.String(),
  artifact_provides: t.Optional(t.Record(t.String(), t.String())),
})

const listQuery = {
  status: t.Optional(t.String({ description: 'pending, inprogress or finished.' })),
  type: t.Optional(t.String({ description: 'software or configuration.' })),
  created_before: t.Optional(t.Numeric({ description: 'Unix seconds (inclusive).' })),
  created_after: t.Optional(t.Numeric({ description: 'Unix seconds (inclusive).' })),
  sort: t.Optional(t.String({ description: 'By creation time: asc or desc (default).' })),
  ...pagingQuery,
}

const deviceStatusQuery = t.Object({
  status: t.Optional(t.String({ description: 'A device deployment status, or pause, active or finished.' })),
  ...pagingQuery,
})

export const DeploymentsModel = {
  deployment,
  deviceDeployment,
  statistics,
  newDeployment: t.Object({
    name: t.String({ description: 'At most 256 characters.' }),
    artifact_name: t.String(),
    devices: t.Optional(t.Array(t.String(), { description: 'Device ids; or set all_devices.' })),
    all_devices: t.Optional(t.Boolean({ description: 'Every device accepted now.' })),
    force_installation: t.Optional(t.Boolean({ description: 'Install even where already installed.' })),
  }),
  newGroupDeployment: t.Object({
    name: t.String(),
    artifact_name: t.String(),
    force_installation: t.Optional(t.Boolean()),
    devices: t.Optional(t.Unknown({ description: 'Not allowed here.' })),
    all_devices: t.Optional(t.Unknown({ description: 'Not allowed here.' })),
  }),
  listQueryV1: t.Object({
    ...listQuery,
    search: t.Optional(t.String({ description: 'Text in the deployment name or artifact name.' })),
  }),
  listQueryV2: t.Object({
    ...listQuery,
    id: t.Optional(t.Array(t.String(), { description: 'Deployment ids (repeatable).' })),
    name: t.Optional(t.Array(t.String(), { description: 'Deployment names (repeatable).' })),
    id_attribute: t.Optional(
      t.String({
        description: 'When no deployment has the name: find the device whose attribute equals it.',
      }),
    ),
    id_scope: t.Optional(t.String({ description: 'identity, inventory or tags.' })),
  }),
  idParams: t.Object({ id: t.String() }),
  logParams: t.Object({ id: t.String(), device_id: t.String() }),
  groupParams: t.Object({ name: t.String() }),
  abort: t.Object({ status: t.String({ description: 'aborted' }) }),
  statisticsList: t.Object({
    deployment_ids: t.Optional(t.Array(t.String(), { description: '1 to 100 ids.' })),
  }),
  statisticsListItem: t.Object({ id: t.String(), stats: statistics }),
  devicesListQuery: deviceStatusQuery,
  historyQuery: deviceStatusQuery,
  historyItem: t.Object({
    id: t.String({ description: 'The device deployment id.' }),
    deployment: t.Optional(deployment),
    device: deviceDeployment,
  }),
  nextQuery: t.Object({ artifact_name: t.String(), device_type: t.String() }),
  nextBody: provides,
  nextBodyV2: t.Object({
    device_provides: provides,
    update_control_map: t.Optional(t.Boolean({ description: 'Ignored: no control maps here.' })),
  }),
  instructions: t.Object({
    id: t.String({ description: 'The deployment id.' }),
    artifact: t.Object({
      id: t.String(),
      artifact_name: t.String(),
      source: t.Object({ uri: t.String(), expire: timestamp, method: t.Literal('GET') }),
      device_types_compatible: t.Array(t.String()),
    }),
  }),
  deviceStatus: t.Object({
    status: t.String({
      description: 'downloading, installing, rebooting, success, failure, already-installed, pause_before_*.',
    }),
    substate: t.Optional(t.String({ description: 'At most 200 characters.' })),
  }),
  deviceLog: t.Object({
    messages: t.Array(
      t.Object({ timestamp: t.String({ description: 'RFC 3339.' }), level: t.String(), message: t.String() }),
    ),
  }),
}

export type ApiDeployment = Static<typeof deployment>
export type ApiDeviceDeployment = Static<typeof deviceDeployment>
export type NewDeployment = Static<typeof DeploymentsModel.newDeployment>
export type NextRequest = Static<typeof provides>
export type Instructions = Static<typeof DeploymentsModel.instructions>
