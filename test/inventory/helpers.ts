import { expect } from 'bun:test'
import type { TestApp } from '../helpers/app.ts'

/** The stored per-status attribute counts equal what the attribute rows say (on either engine). */
export async function expectCountsConsistent(t: TestApp): Promise<void> {
  const actual = await t.sql(
    `SELECT tenant_id, attr, CAST(status AS INTEGER) AS status, CAST(count(DISTINCT device) AS INTEGER) AS devices
       FROM (SELECT tenant_id, attr, status, device FROM inventory_attributes
         UNION ALL SELECT tenant_id, attr, status, device FROM inventory_check_ins) r
       GROUP BY tenant_id, attr, status ORDER BY tenant_id, attr, status`,
  )
  const stored = await t.sql(
    `SELECT tenant_id, attr, CAST(status AS INTEGER) AS status, CAST(devices AS INTEGER) AS devices
       FROM inventory_attribute_counts WHERE devices <> 0 ORDER BY tenant_id, attr, status`,
  )
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
