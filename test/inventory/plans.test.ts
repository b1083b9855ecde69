import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import { parseSearchBody } from '../../src/services/inventory/filters.ts'
import { createDeviceSearch } from '../../src/services/inventory/search.ts'
import { createInventoryService } from '../../src/services/inventory/service.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { addDevice } from './helpers.ts'

/*
 * The "indexed" requirement, kept by SQLite's own account: every statement that searches or
 * writes inventory is explained, and none may read inventory_attributes or inventory_devices by
 * scanning. The one scan allowed is the age-order walk over the devices table by rowid, which
 * stops after a bounded number of rows.
 */

let t: TestApp
beforeAll(async () => {
  t = await createTestApp()
  for (let i = 0; i < 60; i++) {
    await addDevice(t, `dev-${i}`, {
      status: i % 5 === 0 ? 'pending' : 'accepted',
      inventory: {
        device_type: ['rpi4', 'rpi3', 'bbb'][i % 3],
        hostname: `host-${i}`,
        mem_total_kB: [1024, 2048][i % 2],
        network_interfaces: i % 2 ? ['eth0', 'wlan0'] : ['eth0'],
      },
    })
    if (i % 4 === 0) await t.services.inventory.setGroup('', `dev-${i}`, 'production')
  }
})
afterAll(() => t.close())

/** The SQL of every statement compiled while `work` runs. */
function captureStatements(work: () => void): string[] {
  const sqlite = sqliteOf(t.deps).$client
  const seen = new Set<string>()
  const query = sqlite.query.bind(sqlite)
  const prepare = sqlite.prepare.bind(sqlite)
  sqlite.query = ((text: string) => {
    seen.add(text)
    return query(text)
  }) as typeof sqlite.query
  sqlite.prepare = ((text: string, ...rest: unknown[]) => {
    seen.add(text)
    return (prepare as (...args: unknown[]) => ReturnType<typeof prepare>)(text, ...rest)
  }) as typeof sqlite.prepare
  try {
    work()
  } finally {
    sqlite.query = query
    sqlite.prepare = prepare
  }
  return [...seen]
}

/** A full-text MATCH: a lookup in the FTS index, which SQLite reports as a virtual table scan. */
const FTS_MATCH = /^SCAN inventory_text VIRTUAL TABLE INDEX \d+:M/

/**
 * Plan lines that read an inventory table without an index, or through one constrained by the
 * tenant alone (every row of the tenant: a scan by another name).
 */
function scans(statement: string): string[] {
  if (!/inventory_(attributes|devices)/.test(statement) || /^\s*(CREATE|DROP|PRAGMA)/i.test(statement))
    return []
  const plan = sqliteOf(t.deps).$client.query(`EXPLAIN QUERY PLAN ${statement}`).all() as { detail: string }[]
  const ageWalk = /NOT INDEXED/.test(statement)
  return plan
    .map((row) => row.detail)
    .filter((detail) => /^SCAN /.test(detail) || /^SEARCH .* \(tenant_id=\?\)$/.test(detail))
    .filter((detail) => !/^SCAN (\(subquery|json_each|CONSTANT ROW)/.test(detail))
    .filter((detail) => !FTS_MATCH.test(detail))
    .filter((detail) => !(ageWalk && detail === 'SCAN dv'))
}

const accepted = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }
const f = (scope: string, attribute: string, type: string, value: unknown) => ({
  scope,
  attribute,
  type,
  value,
})
const s = (scope: string, attribute: string, order: string) => ({ scope, attribute, order })

const SHAPES: Record<string, unknown> = {
  'accepted + device type, sort by hostname': {
    filters: [accepted, f('inventory', 'device_type', '$eq', 'rpi4')],
    sort: [s('inventory', 'hostname', 'asc')],
  },
  'accepted + memory range, sort by updated_ts desc': {
    filters: [accepted, f('inventory', 'mem_total_kB', '$gte', 2048)],
    sort: [s('system', 'updated_ts', 'desc')],
  },
  'two inventory filters, sort by a number': {
    filters: [
      f('inventory', 'device_type', '$eq', 'rpi4'),
      f('inventory', 'mem_total_kB', '$in', [1024, 2048]),
    ],
    sort: [s('inventory', 'mem_total_kB', 'desc')],
  },
  'group + array element, two sort keys': {
    filters: [
      f('system', 'group', '$eq', 'production'),
      f('inventory', 'network_interfaces', '$eq', 'wlan0'),
    ],
    sort: [s('inventory', 'device_type', 'asc'), s('inventory', 'hostname', 'desc')],
  },
  'negated filters only, no sort': {
    filters: [f('inventory', 'device_type', '$ne', 'bbb'), f('system', 'group', '$exists', false)],
  },
  'regex + nin, projection, later page': {
    filters: [f('inventory', 'hostname', '$regex', 'host-1'), f('inventory', 'device_type', '$nin', ['bbb'])],
    sort: [s('identity', 'id', 'asc')],
    attributes: [{ scope: 'inventory', attribute: 'hostname' }],
    page: 2,
    per_page: 3,
  },
  'everything, sorted by a key some devices lack': { sort: [s('system', 'group', 'asc')] },
  'free text alone': { text: 'production' },
  'free text + accepted, sort by hostname': {
    text: 'rpi4 wlan0',
    filters: [accepted],
    sort: [s('inventory', 'hostname', 'asc')],
  },
}

describe('searches read indexes only', () => {
  const search = () => createDeviceSearch(sqliteOf(t.deps))
  for (const [name, body] of Object.entries(SHAPES)) {
    test(name, () => {
      const engine = search()
      const statements = captureStatements(() => engine.search('', parseSearchBody(body)))
      expect(statements.length).toBeGreaterThan(1)
      for (const statement of statements)
        expect({ statement, scans: scans(statement) }).toEqual({ statement, scans: [] })
    })
  }

  test('the walks name their index and do not sort what is already in order', () => {
    const engine = search()
    const statements = captureStatements(() =>
      engine.search('', parseSearchBody({ filters: [accepted], sort: [s('inventory', 'hostname', 'desc')] })),
    )
    const walk = statements.find((text) => text.includes('UNION ALL') || text.includes('"w".attr'))!
    const plan = (
      sqliteOf(t.deps).$client.query(`EXPLAIN QUERY PLAN ${walk}`).all() as { detail: string }[]
    ).map((r) => r.detail)
    expect(plan.some((line) => line.includes('USING COVERING INDEX inventory_attributes_value'))).toBe(true)
    expect(plan.filter((line) => line.includes('TEMP B-TREE'))).toEqual([])
  })
})

test('writes and management reads use indexes too', () => {
  let inv = t.services.inventory
  const statements = captureStatements(() => {
    // A service of its own, so that the statements it prepares up front are seen too.
    inv = createInventoryService(t.deps)
    inv.upsertIdentity('', 'new-1', { mac: 'm' }, 'pending')
    inv.setIdentityStatus('', 'new-1', 'accepted')
    inv.updateInventory(
      '',
      'new-1',
      [
        { name: 'device_type', value: 'rpi4' },
        { name: 'ifaces', value: ['a'] },
      ],
      'replace',
    )
    inv.updateInventory('', 'new-1', [{ name: 'kernel', value: '6.1' }], 'merge')
    inv.setTags('', 'new-1', [{ name: 'name', value: 'n' }], 'replace')
    inv.setGroup('', 'new-1', 'production')
    inv.getGroup('', 'new-1')
    inv.assignGroup('', 'staging', ['new-1', 'dev-1'])
    inv.unassignGroup('', 'staging', ['dev-1'])
    inv.listGroups('')
    inv.listGroups('', 'accepted')
    inv.getDevice('', 'new-1')
    inv.deleteInventory('', 'new-1')
    inv.writeCheckIns([{ tenantId: '', deviceId: 'new-1', at: new Date() }])
    inv.listAcceptedDeviceIds('')
    inv.listAcceptedDeviceIds('', 'production')
    inv.statistics('')
    inv.filterAttributes('')
    inv.clearGroup('', 'new-1', 'staging')
    inv.deleteGroup('', 'staging')
    inv.removeDevice('', 'new-1')
    inv.stop()
  })
  expect(statements.length).toBeGreaterThan(10)
  for (const statement of statements)
    expect({ statement, scans: scans(statement) }).toEqual({ statement, scans: [] })
})
