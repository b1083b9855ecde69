import { type Static, t } from 'elysia'
import { pagingQuery } from '../../gateway/paging.ts'
import { ArtifactsModel } from '../artifacts/model.ts'
import { MAX_PHASES } from './phases.ts'
import { rolloutPolicySchema } from './policy.ts'
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

const batchSize = {
  batch_size: t.Optional(t.Integer({ minimum: 1, maximum: 100, description: 'Percent of the devices.' })),
  batch_size_devices: t.Optional(
    t.Integer({ minimum: 1, maximum: 10_000_000, description: 'A number of devices (not with batch_size).' }),
  ),
}
const startTs = t.String({ maxLength: 64, description: 'RFC 3339 time the phase opens.' })

/** Mender Enterprise's rollout fields, accepted on every create (v1, group, v2). */
const rolloutFields = {
  phases: t.Optional(
    t.Array(t.Object({ ...batchSize, start_ts: t.Optional(startTs) }), {
      maxItems: MAX_PHASES,
      description: 'The first may omit start_ts (now), the last its size (the rest).',
    }),
  ),
  uniform_phases: t.Optional(
    t.Object({
      ...batchSize,
      start_ts: t.Optional(startTs),
      time_interval: t.String({ maxLength: 64, description: 'Between phases: 30m, 2h, 1h30m or seconds.' }),
    }),
  ),
  retries: t.Optional(
    t.Integer({ minimum: 0, maximum: 100, description: 'More attempts a failed device gets.' }),
  ),
  policy: t.Optional(rolloutPolicySchema),
  update_control_map: t.Optional(
    t.Unknown({ description: 'Refused (400): update control maps were removed from the Mender client 4.0.' }),
  ),
}

const phase = t.Object({
  id: t.String(),
  batch_size: t.Optional(t.Integer()),
  batch_size_devices: t.Optional(t.Integer()),
  start_ts: timestamp,
  device_count: count('Devices of the phase that picked the deployment up.'),
  device_total: count('Devices assigned to the phase.'),
  opened: t.Optional(timestamp),
})

const rolloutEntry = t.Object({
  time: timestamp,
  kind: t.String({ description: 'phase-opened, phase-held, paused, resumed or aborted.' }),
  phase: t.Optional(t.Integer({ description: 'The phase index (0 is the first).' })),
  reason: t.String(),
})

const deployment = t.Object({
  id: t.String(),
  name: t.String(),
  artifact_name: t.String(),
  created: timestamp,
  finished: t.Optional(timestamp),
  status: t.Union([
    t.Literal('scheduled'),
    t.Literal('pending'),
    t.Literal('inprogress'),
    t.Literal('finished'),
  ]),
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
  dynamic: t.Optional(
    t.Boolean({ description: 'Made for a saved filter: devices that come to match join it.' }),
  ),
  initial_device_count: t.Optional(count('Devices matching the filter when it was made.')),
  phases: t.Optional(t.Array(phase)),
  retries: t.Optional(t.Integer()),
  policy: t.Optional(rolloutPolicySchema),
  paused: t.Optional(t.Boolean()),
  paused_at: t.Optional(timestamp),
  pause_reason: t.Optional(t.String()),
  resume_needs_override: t.Optional(t.Boolean({ description: 'A failure gate paused it.' })),
  rollout_log: t.Optional(t.Array(rolloutEntry, { description: 'Only on GET of one deployment.' })),
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
  phase_id: t.Optional(t.String({ description: "The id of the device's phase (phased deployments)." })),
  attempts: t.Integer({ description: 'Attempts so far (retries add some).' }),
  timed_out: t.Optional(t.Boolean({ description: "Stayed in flight past the policy's timeout." })),
})

/** Mender's bound on what a device says about itself, each value checked with its own message. */
const MAX_PROVIDES_LENGTH = 4096
const providesText = (field: string, description?: string) =>
  t.String({
    maxLength: MAX_PROVIDES_LENGTH,
    description,
    error: `${field}: the length must be between 1 and ${MAX_PROVIDES_LENGTH}.`,
  })

const provides = t.Object({
  artifact_name: providesText('artifact_name', 'The artifact the device runs.'),
  device_type: providesText('device_type'),
  artifact_provides: t.Optional(t.Record(t.String(), providesText('artifact_provides'))),
})

/** A deployment's name: Mender's bound (blank names are refused by the service, with the other fields). */
const MAX_NAME_LENGTH = 256
const deploymentName = t.String({
  maxLength: MAX_NAME_LENGTH,
  error: `Validating request body: name: the length must be no more than ${MAX_NAME_LENGTH}.`,
})
const MAX_ARTIFACT_NAME_LENGTH = 4096
const artifactName = t.String({
  maxLength: MAX_ARTIFACT_NAME_LENGTH,
  error: `Validating request body: artifact_name: the length must be between 1 and ${MAX_ARTIFACT_NAME_LENGTH}.`,
})
const MAX_STATISTICS_IDS = 100
const MAX_SUBSTATE_LENGTH = 200

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
    name: deploymentName,
    artifact_name: artifactName,
    devices: t.Optional(t.Array(t.String(), { description: 'Device ids; or set all_devices.' })),
    all_devices: t.Optional(t.Boolean({ description: 'Every device accepted now.' })),
    force_installation: t.Optional(t.Boolean({ description: 'Install even where already installed.' })),
    ...rolloutFields,
  }),
  newDynamicDeployment: t.Object({
    name: deploymentName,
    artifact_name: artifactName,
    filter_id: t.String({
      maxLength: 64,
      description: 'A saved filter (/api/management/v2/inventory/filters).',
    }),
    max_devices: t.Optional(
      t.Integer({
        minimum: 1,
        maximum: 10_000_000,
        description: 'At most this many devices take it; then it finishes.',
      }),
    ),
    force_installation: t.Optional(t.Boolean()),
    ...rolloutFields,
  }),
  newGroupDeployment: t.Object({
    name: deploymentName,
    artifact_name: artifactName,
    force_installation: t.Optional(t.Boolean()),
    ...rolloutFields,
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
  abort: t.Object({
    status: t.String({ description: 'aborted, paused, or resumed' }),
    override: t.Optional(t.Boolean({ description: 'With resumed: resume after a failure gate paused it.' })),
    reason: t.Optional(
      t.String({ maxLength: 500, description: 'With paused: why (shown on the deployment).' }),
    ),
  }),
  statisticsList: t.Object({
    deployment_ids: t.Optional(
      t.Array(t.String(), {
        maxItems: MAX_STATISTICS_IDS,
        error: `deployment_ids: the length must be between 1 and ${MAX_STATISTICS_IDS}.`,
      }),
    ),
  }),
  statisticsListItem: t.Object({ id: t.String(), stats: statistics }),
  devicesListQuery: deviceStatusQuery,
  historyQuery: deviceStatusQuery,
  historyItem: t.Object({
    id: t.String({ description: 'The device deployment id.' }),
    deployment: t.Optional(deployment),
    device: deviceDeployment,
  }),
  nextQuery: t.Object({
    artifact_name: providesText('artifact_name'),
    device_type: providesText('device_type'),
  }),
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
    substate: t.Optional(
      t.String({
        maxLength: MAX_SUBSTATE_LENGTH,
        error: `substate: the length must be no more than ${MAX_SUBSTATE_LENGTH}`,
      }),
    ),
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
