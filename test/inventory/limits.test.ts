import { afterAll, beforeAll, expect, test } from 'bun:test'
import { MAX_ARRAY_ELEMENTS, MAX_VALUE_BYTES } from '../../src/services/inventory/model.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { addDevice, expectCountsConsistent } from './helpers.ts'

let t: TestApp
let admin: string

beforeAll(async () => {
  t = await createTestApp()
  admin = (await loginAs(t)).token
})
afterAll(() => t.close())

const inventoryNames = async () =>
  (await t.sql(`SELECT name FROM inventory_attribute_names WHERE scope = 'inventory' ORDER BY id`)).map(
    (row) => row.name as string,
  )

const report = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}-${'n'.repeat(200)}`, value: 'v' }))

const search = (name: string) =>
  t.call('POST', '/api/management/v2/inventory/filters/search', {
    token: admin,
    body: { filters: [{ scope: 'inventory', attribute: name, type: '$eq', value: 'v' }] },
  })

test('names a device replaces are forgotten: the name table does not grow with its reports', async () => {
  await addDevice(t, 'churn')
  for (let round = 0; round < 20; round++) {
    await t.services.inventory.updateInventory('', 'churn', report(`r${round}`, 100), 'replace')
  }
  const names = await inventoryNames()
  expect(names).toHaveLength(100)
  expect(names.every((name) => name.startsWith('r19-'))).toBe(true)
  await expectCountsConsistent(t)
})

test('a forgotten name can come back, and is found again', async () => {
  await addDevice(t, 'again')
  await t.services.inventory.updateInventory('', 'again', [{ name: 'comeback', value: 'v' }], 'replace')
  await t.services.inventory.updateInventory('', 'again', [{ name: 'other', value: 'v' }], 'replace')
  expect(await inventoryNames()).not.toContain('comeback')
  await t.services.inventory.updateInventory('', 'again', [{ name: 'comeback', value: 'v' }], 'replace')
  const found = await search('comeback')
  expect(found.status).toBe(200)
  expect(found.json.map((d: { id: string }) => d.id)).toEqual(['again'])
  await expectCountsConsistent(t)
})

test('a removed device takes the names only it had with it', async () => {
  await addDevice(t, 'lonely', { inventory: { only_mine: 'v', shared: 'v' } })
  await addDevice(t, 'friend', { inventory: { shared: 'v', last: 'v' } })
  await t.services.inventory.removeDevice('', 'lonely')
  const names = await inventoryNames()
  expect(names).not.toContain('only_mine')
  expect(names).toContain('shared')
  await expectCountsConsistent(t)
})

test.each([
  ['too many array elements', Array.from({ length: MAX_ARRAY_ELEMENTS + 1 }, (_, i) => i)],
  ['a long string', 'x'.repeat(MAX_VALUE_BYTES + 1)],
  ['an array of long strings', Array.from({ length: 2 }, () => 'x'.repeat(MAX_VALUE_BYTES / 2 + 1))],
])('%s is refused (400) and nothing is stored', async (_name, value) => {
  await addDevice(t, 'big')
  await expect(
    t.services.inventory.updateInventory('', 'big', [{ name: 'huge', value }], 'merge'),
  ).rejects.toThrow(
    `attribute value too large: at most ${MAX_ARRAY_ELEMENTS} elements and ${MAX_VALUE_BYTES} bytes`,
  )
  expect(await inventoryNames()).not.toContain('huge')
})

test('values at the bounds are kept', async () => {
  await addDevice(t, 'edge')
  const elements = Array.from({ length: MAX_ARRAY_ELEMENTS }, (_, i) => i)
  await t.services.inventory.updateInventory('', 'edge', [{ name: 'elements', value: elements }], 'merge')
  expect(await inventoryNames()).toContain('elements')
})
