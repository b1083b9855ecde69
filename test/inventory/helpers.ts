import { expect } from 'bun:test'
import { sqliteOf } from '../../src/deps.ts'
import type { TestApp } from '../helpers/app.ts'

/** The stored per-status attribute counts equal what the attribute rows say. */
export function expectCountsConsistent(t: TestApp): void {
  const sqlite = sqliteOf(t.deps).$client
  const actual = sqlite
    .query(
      `SELECT tenant_id, attr, status, count(DISTINCT device) AS devices FROM inventory_attributes
       GROUP BY tenant_id, attr, status ORDER BY tenant_id, attr, status`,
    )
    .all()
  const stored = sqlite
    .query(
      `SELECT tenant_id, attr, status, devices FROM inventory_attribute_counts WHERE devices <> 0
       ORDER BY tenant_id, attr, status`,
    )
    .all()
  expect(stored).toEqual(actual)
}

/** A device known to deviceauth (identity + status) with an inventory report. */
export async function addDevice(
  t: TestApp,
  id: string,
  options: {
    status?: string
    identity?: Record<string, unknown>
    inventory?: Record<string, unknown>
    tenantId?: string
  } = {},
): Promise<void> {
  const tenantId = options.tenantId ?? ''
  await t.services.inventory.upsertIdentity(
    tenantId,
    id,
    options.identity ?? { mac: `mac-${id}` },
    options.status ?? 'accepted',
  )
  if (options.inventory) {
    const body = Object.entries(options.inventory).map(([name, value]) => ({ name, value }))
    await t.services.inventory.updateInventory(tenantId, id, body, 'replace')
  }
}

/** name -> value of one scope of a rendered device. */
export function scopeOf(
  device: { attributes: { name: string; scope: string; value: unknown }[] },
  scope: string,
) {
  return Object.fromEntries(device.attributes.filter((a) => a.scope === scope).map((a) => [a.name, a.value]))
}
