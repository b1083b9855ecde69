#!/usr/bin/env bun
/**
 * The cost of group changes as dynamic-deployment match triggers: a bulk static-group assignment
 * of --devices devices (one PATCH .../groups/{name}/devices worth) in a tenant with no dynamic
 * deployment, and the same in a tenant with an active one whose saved filter names the group.
 *
 *   bun scripts/bench-dynamic.ts [--devices 10000] [--rounds 4] [--keep]
 *
 * In-process, over a fresh SQLite data dir (the trigger lives in the services, HTTP adds the same
 * to both sides). Both tenants hold --devices accepted devices. Each round moves every device of
 * each tenant to the other of two groups (`target`, which the filter matches, then `elsewhere`),
 * so every round really moves them; the tenants take turns going first. Reported per tenant:
 *   - assign: the service call (the store write, then one change notice per listed device);
 *   - match: the rollout runner's work until the notices are handled (without a dynamic
 *     deployment: dropped at once; with one: the filter checked and the matches joined, a slice
 *     of 200 devices per call, as the 1 s timer does);
 *   - joined: how many devices the deployment's list gained.
 * Nothing here is asserted: the tests never time anything.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createServices, stopServices } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { buildDeps, closeDeps } from '../src/deps.ts'
import { unwindDepends } from '../src/services/artifacts/depends.ts'
import type { ArtifactRow } from '../src/services/artifacts/model.ts'
import { SLICE } from '../src/services/deployments/runner.ts'

const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
  },
})
const devices = Number(opts.devices)
const rounds = Number(opts.rounds)
const PLAIN = 'bench-plain'
const DYNAMIC = 'bench-dynamic'
const GROUPS = ['target', 'elsewhere'] as const

const dataDir = mkdtempSync(join(tmpdir(), 'bender-bench-dynamic-'))
const deps = await buildDeps(loadConfig({ BENDER_DATA_DIR: dataDir, BENDER_LOG_LEVEL: 'warn' }))
const services = createServices(deps)
const ids = (tenant: string) => Array.from({ length: devices }, (_, i) => `${tenant}-${i}`)

/** Every pending change notice handled: enough runner passes for all of them, slice by slice. */
async function drain(): Promise<number> {
  let joined = 0
  for (let i = 0; i <= Math.ceil((2 * devices) / SLICE); i++) joined += await services.deployments.runDue()
  return joined
}

async function seed(tenant: string) {
  for (const id of ids(tenant)) await services.inventory.upsertIdentity(tenant, id, { mac: id }, 'accepted')
}

async function dynamicDeployment(): Promise<string> {
  const name = 'bench-dynamic-app'
  const row: ArtifactRow = {
    id: crypto.randomUUID(),
    tenantId: DYNAMIC,
    name,
    description: '',
    deviceTypes: ['bench-device'],
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [{ type_info: { type: 'single-file' }, files: [] }] as unknown as ArtifactRow['updates'],
    provides: { artifact_name: name },
    depends: { device_type: ['bench-device'] },
    clearsProvides: null,
    size: 4096,
    modified: new Date(),
  }
  await deps.stores.artifacts.insertArtifact(row, unwindDepends(row.depends))
  const filterId = await services.inventory.createSavedFilter(DYNAMIC, {
    name: 'in target',
    terms: [{ scope: 'system', attribute: 'group', type: '$eq', value: 'target' }],
  })
  return services.deployments.createDynamicDeployment(DYNAMIC, {
    name: 'bench dynamic',
    artifact_name: name,
    filter_id: filterId,
  })
}

const ms = (from: number) => performance.now() - from
const rows: {
  round: number
  tenant: string
  group: string
  assignMs: number
  matchMs: number
  joined: number
}[] = []

try {
  const seeding = performance.now()
  await seed(PLAIN)
  await seed(DYNAMIC)
  await drain()
  console.error(`seeded 2 × ${devices} accepted devices in ${(ms(seeding) / 1000).toFixed(1)} s`)
  const deploymentId = await dynamicDeployment()
  console.error(`dynamic deployment ${deploymentId} active, filter system/group = target`)

  for (let round = 0; round < rounds; round++) {
    const group = GROUPS[round % 2]!
    const order = round % 2 === 0 ? [PLAIN, DYNAMIC] : [DYNAMIC, PLAIN]
    for (const tenant of order) {
      const assigning = performance.now()
      await services.inventory.assignGroup(tenant, group, ids(tenant))
      const assignMs = ms(assigning)
      const matching = performance.now()
      const joined = await drain()
      rows.push({ round, tenant, group, assignMs, matchMs: ms(matching), joined })
    }
  }

  console.log(`bulk group assignment of ${devices} devices; the machine may be shared (figures are noisy)`)
  console.log('round  tenant                  group      assign ms  match ms  joined')
  for (const row of rows) {
    const tenant = row.tenant === PLAIN ? 'no dynamic deployment' : 'active dynamic deploym.'
    console.log(
      `${String(row.round).padEnd(6)} ${tenant.padEnd(23)} ${row.group.padEnd(10)} ${row.assignMs.toFixed(1).padStart(9)} ${row.matchMs.toFixed(1).padStart(9)} ${String(row.joined).padStart(7)}`,
    )
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  for (const tenant of [PLAIN, DYNAMIC]) {
    const mine = rows.filter((row) => row.tenant === tenant)
    const assign = median(mine.map((row) => row.assignMs))
    const match = median(mine.map((row) => row.matchMs))
    console.log(
      `median ${tenant === PLAIN ? 'without' : 'with'} an active dynamic deployment: assign ${assign.toFixed(1)} ms, match ${match.toFixed(1)} ms`,
    )
  }
} finally {
  await stopServices(services)
  await closeDeps(deps)
  if (!opts.keep) rmSync(dataDir, { recursive: true, force: true })
  else console.error(`data dir kept: ${dataDir}`)
}
