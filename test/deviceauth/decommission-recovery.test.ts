import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sqliteOf } from '../../src/deps.ts'
import { createDeviceauthStore, createRevocationCounter } from '../../src/services/deviceauth/store.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { acceptedDevice, TestDevice } from '../helpers/device.ts'

setDefaultTimeout(60_000)

const dataDir = mkdtempSync(join(tmpdir(), 'bender-recovery-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

/** The app over the same data directory (and so the same database file) every time. */
const openApp = () => createTestApp({ BENDER_DATA_DIR: dataDir })

const inInventory = async (t: TestApp, id: string) => {
  try {
    await t.services.inventory.getDevice('', id)
    return true
  } catch {
    return false
  }
}

test('a decommission whose inventory write never happened is applied after a restart', async () => {
  // First run: an accepted device, known to inventory.
  const first = await openApp()
  const admin = (await loginAs(first)).token
  const device = new TestDevice({ mac: '0a:00:00:00:0d:01' })
  const { id } = await acceptedDevice(first, admin, device)
  expect(await inInventory(first, id)).toBe(true)
  // The durable subscriptions saved their start; the app stops cleanly.
  await first.close()

  // The crash: deviceauth's own change and its event commit, then the process dies before
  // inventory's and deployments' writes. Only deviceauth's store runs here.
  const { db, close } = await (async () => {
    const app = await openApp()
    // The app's subscriptions must not see the event in this run: stop them before the write.
    app.services.stopWorkflows()
    return { db: sqliteOf(app.deps), close: () => app.close() }
  })()
  expect(await createDeviceauthStore(db, createRevocationCounter()).decommission('', id)).toBe(true)
  await close()

  // Next start: the subscriptions find the event after their saved position and catch up.
  const second = await openApp()
  try {
    for (let i = 0; i < 200 && (await inInventory(second, id)); i++) await Bun.sleep(25)
    expect(await inInventory(second, id)).toBe(false)
  } finally {
    await second.close()
  }
})
