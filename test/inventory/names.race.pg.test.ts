import { afterAll, beforeAll, expect, test } from 'bun:test'
import { openPgDatabase, type PgDatabase } from '../../db/pg.ts'
import { STATUS_CODES } from '../../src/services/inventory/model.ts'
import { createPgInventoryStore } from '../../src/services/inventory/store.pg.ts'
import type { InventoryStore } from '../../src/services/inventory/store.ts'
import type { AttributeInput } from '../../src/services/inventory/values.ts'
import { openTestPgDatabase, pgSql, type TestSql } from '../helpers/database.ts'

/*
 * Two bender instances on one PostgreSQL database: two pools, two inventory stores. One forgets a
 * name (its device drops the last value of it) while the other writes a value with that name.
 */

let first: { db: PgDatabase; close(): Promise<void> }
let second: PgDatabase
let a: InventoryStore
let b: InventoryStore
let q: TestSql

beforeAll(async () => {
  const opened = await openTestPgDatabase()
  first = opened
  second = await openPgDatabase(opened.url)
  a = createPgInventoryStore(opened.db)
  b = createPgInventoryStore(second)
  q = pgSql(opened.db)
})
afterAll(async () => {
  await second.$client.close()
  await first.close()
})

const write = (replace: boolean) => ({ replace, now: new Date(), max: 100 })
const inventoryOf = async (deviceId: string) =>
  Object.fromEntries(
    ((await a.getDevice('', deviceId))?.device.attributes ?? [])
      .filter((attr) => attr.scope === 'inventory')
      .map((attr) => [attr.name, attr.value]),
  )

/** No value refers to a missing name, and the per-status totals are the rows' own. */
async function expectConsistent() {
  expect(
    await q(`SELECT a.attr FROM inventory_attributes a
      WHERE NOT EXISTS (SELECT 1 FROM inventory_attribute_names n WHERE n.id = a.attr)`),
  ).toEqual([])
  const actual = await q(`SELECT tenant_id, attr::int, status::int, count(DISTINCT device)::int AS devices
    FROM inventory_attributes GROUP BY tenant_id, attr, status ORDER BY tenant_id, attr, status`)
  const stored =
    await q(`SELECT tenant_id, attr::int, status::int, devices::int FROM inventory_attribute_counts
    WHERE devices <> 0 ORDER BY tenant_id, attr, status`)
  expect(stored).toEqual(actual)
}

/** The inventory names no device has a value of (none once every write has finished). */
const unusedNames = () =>
  q(`SELECT scope, name FROM inventory_attribute_names n
    WHERE NOT EXISTS (SELECT 1 FROM inventory_attributes a WHERE a.attr = n.id) ORDER BY name`)

const ROUNDS = 80

test('one instance forgets a name while the other writes a value with it: no value lost, none dangling', async () => {
  for (const [store, id] of [
    [a, 'dev-a'],
    [b, 'dev-b'],
  ] as const)
    await store.writeIdentity('', id, [{ name: 'mac', value: id }], STATUS_CODES.accepted, new Date())
  for (let round = 0; round < ROUNDS; round++) {
    const name = `churn-${round % 3}`
    const [remover, writer, from, to] = round % 2 === 0 ? [a, b, 'dev-a', 'dev-b'] : [b, a, 'dev-b', 'dev-a']
    // `from` alone has the name; it drops it (the name is then forgotten) as `to` gains it.
    await remover.updateInventory('', from, [{ name, value: 'old' }], write(false))
    await Promise.all([
      remover.updateInventory('', from, [{ name: 'other', value: String(round) }], write(true)),
      (async () => {
        await Bun.sleep(round % 4)
        await writer.updateInventory('', to, [{ name, value: String(round) }], write(false))
      })(),
    ])
    expect(await inventoryOf(to)).toMatchObject({ [name]: String(round) })
    expect(await inventoryOf(from)).toEqual({ other: String(round) })
    await expectConsistent()
    // The next round starts with neither device having a `churn-` name.
    await writer.updateInventory('', to, [{ name: 'other', value: String(round) }], write(true))
  }
  expect(await unusedNames()).toEqual([])
}, 120_000)

test('devices on both instances adding and dropping the same names at once: every last write kept, nothing left over', async () => {
  const ids = ['p0', 'p1', 'p2', 'p3']
  const stores = [a, b]
  const last = new Map<string, AttributeInput[]>()
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  for (let round = 0; round < 60; round++) {
    await Promise.all(
      ids.map(async (id, i) => {
        // One to three of five names, each device on both instances in turn.
        const inputs = [...new Set(Array.from({ length: 1 + random(3) }, () => `shared-${random(5)}`))].map(
          (name) => ({ name, value: `${id}-${round}` }),
        )
        await stores[(i + round) % 2]!.updateInventory('', id, inputs, write(true))
        last.set(id, inputs)
      }),
    )
  }
  for (const id of ids)
    expect(await inventoryOf(id)).toEqual(
      Object.fromEntries(last.get(id)!.map((input) => [input.name, input.value])),
    )
  await expectConsistent()
  expect(await unusedNames()).toEqual([])
  // Every device goes: so do all of their names.
  await Promise.all(ids.map((id, i) => stores[i % 2]!.removeDevice('', id)))
  await expectConsistent()
  expect(await q(`SELECT name FROM inventory_attribute_names WHERE name LIKE 'shared-%'`)).toEqual([])
  expect(await unusedNames()).toEqual([])
}, 120_000)
