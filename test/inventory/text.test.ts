import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sqliteOf } from '../../src/deps.ts'
import { keywords } from '../../src/services/inventory/filters.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { waitFor } from '../helpers/server.ts'
import { addDevice } from './helpers.ts'

let t: TestApp
let token: string

beforeAll(async () => {
  t = await createTestApp()
  token = (await loginAs(t)).token
  const inv = t.services.inventory
  await addDevice(t, 'dev-a1', {
    identity: { mac: 'de:ad:be:ef:00:01' },
    inventory: {
      device_type: 'raspberrypi4',
      hostname: 'kitchen-sensor',
      ifaces: ['eth0', 'wlan0'],
      mem: 1024,
    },
  })
  t.clock.advance(1)
  await addDevice(t, 'dev-b2', {
    identity: { mac: 'de:ad:be:ef:00:02' },
    inventory: { device_type: 'beaglebone', hostname: 'Garage-Door', location: 'Zürich', build: '4096' },
  })
  t.clock.advance(1)
  await addDevice(t, 'dev-c3', {
    status: 'pending',
    identity: { mac: 'de:ad:be:ef:00:03' },
    inventory: { device_type: 'raspberrypi4', hostname: 'attic-devices' },
  })
  t.clock.advance(1)
  await inv.setGroup('', 'dev-a1', 'northwing')
  await inv.setTags('', 'dev-b2', [{ name: 'owner', value: 'Alice Smith' }], 'replace')
  // Another tenant's device with the same words never shows up.
  await addDevice(t, 'dev-x9', { tenantId: 'other', inventory: { device_type: 'raspberrypi4' } })
})
afterAll(() => t.close())

const search = (body: Record<string, unknown>) =>
  t.call('POST', '/api/management/v2/inventory/filters/search', { token, body })
const ids = async (body: Record<string, unknown>) => {
  const res = await search(body)
  expect(res.status).toBe(200)
  expect(res.headers.get('x-total-count')).toBe(String(res.json.length))
  return res.json.map((d: { id: string }) => d.id)
}
const text = (words: string, extra: Record<string, unknown> = {}) => ids({ text: words, ...extra })

test('keywords: runs of letters and digits, as Mender cuts them', () => {
  expect(keywords('  Garage-Door, wlan0!')).toEqual(['Garage', 'Door', 'wlan0'])
  expect(keywords('Zürich 東京')).toEqual(['Zürich', '東京'])
  expect(keywords('<>&"')).toEqual([])
})

describe('v2 search: free text', () => {
  test('matches words of inventory, identity and tags strings, the group and the id', async () => {
    expect(await text('beaglebone')).toEqual(['dev-b2'])
    expect(await text('wlan0')).toEqual(['dev-a1'])
    expect(await text('00')).toEqual(['dev-a1', 'dev-b2', 'dev-c3'])
    expect(await text('alice')).toEqual(['dev-b2'])
    expect(await text('northwing')).toEqual(['dev-a1'])
    expect(await text('c3')).toEqual(['dev-c3'])
    // identity/status is an identity string too.
    expect(await text('pending')).toEqual(['dev-c3'])
  })

  test('any word matches; case, accents and English plurals do not matter', async () => {
    expect(await text('BEAGLEBONE sensor')).toEqual(['dev-a1', 'dev-b2'])
    expect(await text('zurich')).toEqual(['dev-b2'])
    expect(await text('device')).toEqual(['dev-c3'])
    expect(await text('garage-door')).toEqual(['dev-b2'])
  })

  test('numbers are not text; a string of digits is', async () => {
    expect(await text('1024')).toEqual([])
    expect(await text('4096')).toEqual(['dev-b2'])
  })

  test('text without a word matches nothing; an empty text is no condition', async () => {
    const res = await search({ text: '--- !!' })
    expect(res.status).toBe(200)
    expect(res.json).toEqual([])
    expect(res.headers.get('x-total-count')).toBe('0')
    expect(await ids({ text: '' })).toEqual(['dev-a1', 'dev-b2', 'dev-c3'])
  })

  test('combines with filters, sorting and paging', async () => {
    const accepted = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }
    expect(await text('raspberrypi4', { filters: [accepted] })).toEqual(['dev-a1'])
    const sort = [{ scope: 'inventory', attribute: 'hostname', order: 'desc' }]
    expect(await text('raspberrypi4 beaglebone', { sort })).toEqual(['dev-a1', 'dev-c3', 'dev-b2'])
    const page = await search({ text: 'de', per_page: 1, page: 2 })
    expect(page.json.map((d: { id: string }) => d.id)).toEqual(['dev-b2'])
    expect(page.headers.get('x-total-count')).toBe('3')
  })

  test("only the tenant's devices, only those of the statuses filtered on, following status changes", async () => {
    const accepted = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }
    expect(await text('raspberrypi4')).toEqual(['dev-a1', 'dev-c3'])
    expect(await text('raspberrypi4', { filters: [accepted] })).toEqual(['dev-a1'])
    await t.services.inventory.setIdentityStatus('', 'dev-c3', 'accepted')
    expect(await text('raspberrypi4', { filters: [accepted] })).toEqual(['dev-a1', 'dev-c3'])
    await t.services.inventory.setIdentityStatus('', 'dev-c3', 'pending')
    expect(await text('raspberrypi4', { filters: [accepted] })).toEqual(['dev-a1'])
  })

  test('text that is not a string, or of more than 64 words, is a 400', async () => {
    const res = await search({ text: 5 })
    expect(res.status).toBe(400)
    expect(res.json.error).toContain('text')
    const long = await search({ text: Array.from({ length: 65 }, (_, i) => `w${i}`).join(' ') })
    expect(long.status).toBe(400)
    expect(long.json.error).toBe('text: at most 64 words are allowed')
    expect(await text(`${Array.from({ length: 63 }, (_, i) => `w${i}`).join(' ')} wlan0`)).toEqual(['dev-a1'])
  })

  test('follows every write: reports, groups, tags and removal', async () => {
    const inv = t.services.inventory
    await inv.updateInventory('', 'dev-a1', [{ name: 'hostname', value: 'pantry-sensor' }], 'merge')
    expect(await text('kitchen')).toEqual([])
    expect(await text('pantry')).toEqual(['dev-a1'])
    await inv.setGroup('', 'dev-c3', 'loft')
    expect(await text('loft')).toEqual(['dev-c3'])
    await inv.clearGroup('', 'dev-c3', 'loft')
    expect(await text('loft')).toEqual([])
    await inv.setTags('', 'dev-b2', [], 'replace')
    expect(await text('alice')).toEqual([])
    await inv.removeDevice('', 'dev-b2')
    expect(await text('beaglebone')).toEqual([])
    const left = sqliteOf(t.deps).$client.query('SELECT count(*) AS n FROM inventory_text').get() as {
      n: number
    }
    expect(left.n).toBe(3)
  })

  test('a write marks its device in its own transaction; a timer reindexes it without a search', async () => {
    const sqlite = sqliteOf(t.deps).$client
    const indexed = (word: string) =>
      sqlite.query('SELECT rowid FROM inventory_text WHERE inventory_text MATCH ?').all(`{body} : "${word}"`)
        .length
    const marks = () => sqlite.query('SELECT count(*) AS n FROM inventory_text_dirty').get()
    await t.services.inventory.updateInventory('', 'dev-a1', [{ name: 'note', value: 'quokka' }], 'merge')
    // The mark is stored with the change, so a crash before the reindex loses nothing.
    expect(marks()).toEqual({ n: 1 })
    expect(indexed('quokka')).toBe(0)
    await waitFor('the timer to index the write', () => (indexed('quokka') === 1 ? true : undefined))
    expect(marks()).toEqual({ n: 0 })
    // A write that fails stores no mark.
    await expect(
      t.services.inventory.updateInventory(
        '',
        'dev-a1',
        Array.from({ length: 101 }, (_, k) => ({ name: `n${k}`, value: 'x' })),
        'merge',
      ),
    ).rejects.toThrow()
    expect(marks()).toEqual({ n: 0 })
  })

  test('a report that moves only numbers leaves the text alone; one that turns a number into a string marks it', async () => {
    const sqlite = sqliteOf(t.deps).$client
    const marks = () => sqlite.query('SELECT count(*) AS n FROM inventory_text_dirty').get()
    const inv = t.services.inventory
    await waitFor('no device left to reindex', () => ((marks() as { n: number }).n === 0 ? true : undefined))
    // mem is a number already: a new number, and a new numeric attribute, are not text.
    await inv.updateInventory(
      '',
      'dev-a1',
      [
        { name: 'mem', value: 2048 },
        { name: 'uptime_s', value: 7 },
      ],
      'merge',
    )
    expect(marks()).toEqual({ n: 0 })
    expect(await text('2048')).toEqual([])
    // Removing a number (a replace without it) is not a text change either.
    const current = await t.call('GET', '/api/management/v1/inventory/devices/dev-a1', { token })
    const kept = current.json.attributes
      .filter((a: { scope: string; name: string }) => a.scope === 'inventory' && a.name !== 'uptime_s')
      .map((a: { name: string; value: unknown }) => ({ name: a.name, value: a.value }))
    await inv.updateInventory('', 'dev-a1', kept, 'replace')
    expect(marks()).toEqual({ n: 0 })
    // A string where the number was is text: the device is marked, and its word found.
    await inv.updateInventory('', 'dev-a1', [{ name: 'mem', value: 'wombat' }], 'merge')
    expect(marks()).toEqual({ n: 1 })
    expect(await text('wombat')).toEqual(['dev-a1'])
    // And back to a number: the word goes.
    await inv.updateInventory('', 'dev-a1', [{ name: 'mem', value: 1024 }], 'merge')
    expect(await text('wombat')).toEqual([])
  })

  test('the migration builds the same index from the devices already stored', async () => {
    const words = 'raspberrypi4 pantry garage 00 pending'
    const before = await text(words)
    expect(before.length).toBeGreaterThan(0)
    const sqlite = sqliteOf(t.deps).$client
    sqlite.run('DELETE FROM inventory_text')
    expect(await text(words)).toEqual([])
    const migration = readFileSync(
      join(import.meta.dir, '../../db/migrations/0005_inventory_text.sql'),
      'utf8',
    )
    sqlite.run(migration.split('--> statement-breakpoint')[1]!)
    expect(await text(words)).toEqual(before)
  })
})
