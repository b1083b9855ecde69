import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../db/client.ts'
import { parseSearchBody } from '../../src/services/inventory/filters.ts'
import { createDeviceSearch } from '../../src/services/inventory/search.ts'

const dir = mkdtempSync(join(tmpdir(), 'bender-seed-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test(
  'scripts/seed.ts leaves a data dir the service reads as it would its own writes',
  () => {
    const run = Bun.spawnSync(['bun', 'scripts/seed.ts', '--data-dir', dir, '--devices', '400'], {
      stderr: 'pipe',
    })
    expect(run.stderr.toString()).toBe('')
    expect(run.exitCode).toBe(0)
    expect(run.stdout.toString()).toContain('seeded 400 devices')
    const db = openDatabase(join(dir, 'bender.db'))
    const sqlite = db.$client
    // The per-status totals match the rows, and every index is back.
    const counted = sqlite
      .query(
        `SELECT attr, status, count(DISTINCT device) AS devices FROM (SELECT attr, status, device
        FROM inventory_attributes UNION ALL SELECT attr, status, device FROM inventory_check_ins)
        GROUP BY 1, 2 ORDER BY 1, 2`,
      )
      .all()
    const kept = sqlite
      .query('SELECT attr, status, devices FROM inventory_attribute_counts WHERE devices <> 0 ORDER BY 1, 2')
      .all()
    expect(kept).toEqual(counted)
    const indexes = sqlite
      .query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inventory_attributes'")
      .all()
    expect(indexes.map((i: any) => i.name).sort()).toEqual([
      'inventory_attributes_device',
      'inventory_attributes_value',
    ])
    const search = createDeviceSearch(db)
    const all = search.search('', parseSearchBody({ per_page: 1 }))
    expect(all.total).toBe(400)
    const accepted = search.search(
      '',
      parseSearchBody({
        filters: [{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }],
        sort: [{ scope: 'inventory', attribute: 'mem_total_kB', order: 'desc' }],
      }),
    )
    expect(accepted.total).toBeGreaterThan(300)
    const [device] = accepted.devices
    const names = device!.attributes.map((a) => `${a.scope}/${a.name}`)
    for (const name of [
      'identity/mac',
      'identity/status',
      'inventory/device_type',
      'inventory/network_interfaces',
      'system/created_ts',
    ]) {
      expect(names).toContain(name)
    }
    expect(device!.attributes.find((a) => a.name === 'mem_total_kB')!.value).toBeNumber()
    // Seeded devices are in the free-text index: a device is found by its hostname's words.
    const hostname = device!.attributes.find((a) => a.name === 'hostname')!.value as string
    const byText = search.search('', parseSearchBody({ text: hostname, per_page: 500 }))
    expect(byText.devices.map((d) => d.id)).toContain(device!.id)
    expect(byText.total).toBeLessThan(400)
    sqlite.close()
  },
  { timeout: 60_000 },
)
