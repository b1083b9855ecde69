import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { addDevice } from './helpers.ts'

/*
 * Free text holds a device's string values only, so a write that moves only numbers skips the
 * reindex. These follow the values across types through the API, on either engine.
 */

let t: TestApp
let token: string

beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
  await addDevice(t, 'dev-n1', { inventory: { device_type: 'numbat', mem: 1024, uptime_s: 60 } })
})
afterAll(() => t.close())

const text = async (words: string) => {
  const res = await t.call('POST', '/api/management/v2/inventory/filters/search', {
    token,
    body: { text: words },
  })
  expect(res.status).toBe(200)
  return res.json.map((d: { id: string }) => d.id)
}
const report = (attrs: { name: string; value: unknown }[], mode: 'merge' | 'replace' = 'merge') =>
  t.services.inventory.updateInventory('', 'dev-n1', attrs, mode)

test('numbers moving keep the words; a number turned string is found; a string turned number or removed is not', async () => {
  await report([
    { name: 'mem', value: 2048 },
    { name: 'uptime_s', value: 120 },
  ])
  expect(await text('numbat')).toEqual(['dev-n1'])
  expect(await text('2048')).toEqual([])
  await report([{ name: 'mem', value: 'wombat' }])
  expect(await text('wombat')).toEqual(['dev-n1'])
  await report([{ name: 'mem', value: 4096 }])
  expect(await text('wombat')).toEqual([])
  await report([{ name: 'uptime_s', value: 'quokka' }])
  expect(await text('quokka')).toEqual(['dev-n1'])
  // Replaced without it: the string attribute goes, and its word with it; the others stay.
  await report(
    [
      { name: 'device_type', value: 'numbat' },
      { name: 'mem', value: 4096 },
    ],
    'replace',
  )
  expect(await text('quokka')).toEqual([])
  expect(await text('numbat')).toEqual(['dev-n1'])
})
