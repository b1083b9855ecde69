import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser, Page } from 'puppeteer-core'
import {
  acceptedDevice,
  acceptedDevices,
  addArtifact,
  getDeployment,
  MGMT,
  poll,
  report,
} from '../deployments/rollout.ts'
import { loginAs } from '../helpers/app.ts'
import {
  type ConsolePage,
  choose,
  clickNamed,
  control,
  fill,
  findText,
  LAPTOP,
  launchBrowser,
  openPage,
  signIn,
} from '../helpers/browser.ts'
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

/**
 * Phased deployments with a rollout policy, made and steered from the console in Debian's chromium:
 * the form sends phases, retries and a failure gate; the deployment's page shows its phases, pauses
 * and attempts, and pauses and resumes it. The devices are scripted through the device API.
 */

const RELEASE = 'rollout-app-1'
const DAY_MS = 24 * 3600 * 1000
/** Phone width; not PHONE's mobile emulation, whose switch reloads the page and loses the form. */
const NARROW = { width: 390, height: 844 }
/** Later than the server's clock after the gate test moved it two days on. */
const LATER_MS = 10 * DAY_MS

let server: TestServer
let browser: Browser
let admin: string
let devices: Awaited<ReturnType<typeof acceptedDevices>>
let c: ConsolePage
let deploymentId: string

/** Sets a `datetime-local` input to a time `ms` from now, in the page's own time zone. */
async function setStartIn(page: Page, label: string, ms: number) {
  const input = await control(page, label)
  await input.evaluate((el: any, offset: number) => {
    const at = new Date(Date.now() + offset)
    const local = new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
    const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), 'value')!.set!
    setter.call(el, local)
    el.dispatchEvent(new Event('input', { bubbles: true }))
  }, ms)
}

/** Opens the create form with the release chosen, the rollout fields unfolded and `phases` phase rows. */
async function openForm(page: Page, reach = devices.length, phases = 2) {
  await page.goto(`${server.url}/#/deployments`)
  // A fresh page: a form left open by the test before would be closed by the toggle below.
  await page.reload()
  await clickNamed(page, 'Create a deployment')
  await choose(page, 'Release', RELEASE)
  await findText(page, `This deployment reaches ${reach} devices.`, '.preview')
  await clickNamed(page, 'Phases, retries and safety gates')
  for (let i = 0; i < phases; i++) await clickNamed(page, 'Add a phase')
}

const submit = (page: Page) =>
  page.$eval('form[aria-label="Create a deployment"] button[type=submit]', (b: any) => b.click())

/** The cells of the phases table, row by row. */
const phaseCells = (page: Page) =>
  page.$$eval('table[aria-label="Phases"] tbody tr', (rows: any[]) =>
    rows.map((r) => [...r.children].map((cell: any) => cell.textContent.trim())),
  )

beforeAll(async () => {
  server = await startTestServer()
  admin = (await loginAs(server)).token
  devices = await acceptedDevices(server, admin, 4)
  await addArtifact(server, RELEASE, ['dev-a'])
  browser = await launchBrowser()
  c = await openPage(browser, server.url)
  await signIn(c.page, 'admin@example.com', 'correct-horse-1')
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

test('a phased deployment with retries and a failure gate is made in the form and its phases are shown', async () => {
  const { page } = c
  await openForm(page)
  await fill(page, 'Phase 1 size', '50')
  await setStartIn(page, 'Phase 2 starts', DAY_MS)
  await fill(page, 'Retries per device', '1')
  await (await findText(page, 'Stop the rollout when devices fail', 'label.check')).click()
  await fill(page, 'Or at this many failures', '1')
  await c.shot('rollout-create')
  await submit(page)
  await page.waitForFunction(() => /#\/deployments\/[0-9a-f-]{36}$/.test((globalThis as any).location.hash))
  deploymentId = (await page.evaluate(() => (globalThis as any).location.hash as string)).split('/').pop()!
  await page.waitForSelector('table[aria-label="Phases"]')
  const cells = await phaseCells(page)
  expect(cells.map((row) => row[0])).toEqual(['Phase 1', 'Phase 2'])
  expect(cells[0]![1]).toBe('50% (2 devices)')
  expect(cells[0]![3]).toContain('open since')
  expect(cells[1]![1]).toBe('the rest (2 devices)')
  expect(cells[1]![3]).toContain('scheduled opens in')
  await findText(page, 'each device may try 2 times; pause at 1 failure in a phase', '.policy')
  const made = await getDeployment(server, admin, deploymentId)
  expect(made.retries).toBe(1)
  expect(made.policy).toEqual({ failure_gate: { max_failures: 1, action: 'pause' } })
  expect(made.phases.map((p: { device_total: number }) => p.device_total)).toEqual([2, 2])
  expect(Date.parse(made.phases[1].start_ts)).toBeGreaterThan(Date.now() + DAY_MS - 120_000)
  await c.shot('rollout-phases')
}, 90_000)

test('the deployment is paused and resumed by hand from its page', async () => {
  const { page } = c
  await fill(page, 'Reason for pausing (optional)', 'checking the first results')
  await clickNamed(page, 'Pause deployment')
  const notice = await findText(page, 'checking the first results', 'section[aria-label="Paused"]')
  expect(await notice.evaluate((el: any) => el.textContent)).toContain('Paused')
  expect((await getDeployment(server, admin, deploymentId)).paused).toBe(true)
  // While paused, a device of the open phase is not offered the deployment.
  expect((await poll(server, devices[0]!.token)).status).toBe(204)
  await c.shot('rollout-paused')
  await clickNamed(page, 'Resume deployment')
  await page.waitForSelector('form[aria-label="Pause the deployment"]')
  expect((await getDeployment(server, admin, deploymentId)).paused).toBeUndefined()
  await findText(page, 'checking the first results', 'ol[aria-label="Rollout record"] li')
  expect(c.problems).toEqual([])
}, 60_000)

test('a failure gate pauses it live; the page shows why and the attempts, and overrides the gate', async () => {
  const { page } = c
  const first = []
  for (const device of devices) if ((await poll(server, device.token)).status === 200) first.push(device)
  expect(first.length).toBe(2)
  const failing = first[0]!
  // Two attempts (one retry): the first failure is not a failure yet.
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (attempt > 1) expect((await poll(server, failing.token)).status).toBe(200)
    await report(server, failing.token, deploymentId, 'installing')
    await report(server, failing.token, deploymentId, 'failure')
  }
  // No reload: the page follows the event stream.
  const notice = await findText(page, 'failure gate', 'section[aria-label="Paused"]', 30_000)
  expect(await notice.evaluate((el: any) => el.textContent)).toContain('1 failures reached the limit of 1')
  // The device table reloads on the same event as the notice, in its own time: wait for its row.
  await page.waitForFunction(
    (id: string) =>
      [...(globalThis as any).document.querySelectorAll('table[aria-label="Devices of this deployment"] tr')]
        .map((r: any) => [...r.children].map((cell: any) => cell.textContent.trim()))
        .some((cells: string[]) => cells[0] === id && cells[5] === '2'),
    { timeout: 30_000 },
    failing.id,
  )
  const row = await page.$$eval('table[aria-label="Devices of this deployment"] tr', (rows: any[]) =>
    rows.map((r) => [...r.children].map((cell: any) => cell.textContent.trim())),
  )
  expect(row[0]).toEqual(['Device', 'Status', 'Started', 'Finished', 'Log', 'Attempts', 'Phase'])
  const failed = row.find((cells) => cells[0] === failing.id)!
  expect(failed[1]).toContain('failure')
  expect(failed[5]).toBe('2')
  expect(failed[6]).toBe('1')
  await c.shot('rollout-gate-paused')
  await page.setViewport(NARROW)
  await c.shot('rollout-gate-paused-phone')
  await page.setViewport(LAPTOP)
  await clickNamed(page, 'Override the gate and resume')
  await page.waitForSelector('form[aria-label="Pause the deployment"]')
  const resumed = await getDeployment(server, admin, deploymentId)
  expect(resumed.paused).toBeUndefined()
  expect(resumed.rollout_log.map((e: { kind: string }) => e.kind)).toContain('resumed')
  // Past its start time the second phase opens, and the page shows it without a reload.
  server.clock.advance(2 * 24 * 3600)
  await page.waitForFunction(
    () =>
      (globalThis as any).document
        .querySelectorAll('table[aria-label="Phases"] tbody tr')[1]
        ?.textContent.includes('open since'),
    { timeout: 30_000 },
  )
  await c.shot('rollout-second-phase')
  expect(c.problems).toEqual([])
}, 90_000)

test('a form the server refuses shows its error beside the form, with the request id', async () => {
  const { page } = c
  await openForm(page)
  await fill(page, 'Phase 1 size', '30')
  await fill(page, 'Phase 2 size', '30')
  await setStartIn(page, 'Phase 2 starts', LATER_MS)
  const expected = await server.call('POST', `${MGMT}/deployments`, {
    token: admin,
    body: {
      name: RELEASE,
      artifact_name: RELEASE,
      all_devices: true,
      phases: [
        { batch_size: 30 },
        { batch_size: 30, start_ts: new Date(Date.now() + LATER_MS).toISOString() },
      ],
    },
  })
  expect(expected.status).toBe(400)
  await submit(page)
  const alert = await findText(page, 'Request id', 'form[aria-label="Create a deployment"] [role=alert]')
  const text: string = await alert.evaluate((el: any) => el.textContent)
  const error: string = expected.json.error
  expect(text.toLowerCase()).toContain(error.toLowerCase().replace(/\.$/, ''))
  await c.shot('rollout-refused')
  await page.setViewport(NARROW)
  await c.shot('rollout-refused-phone')
  await page.setViewport(LAPTOP)
  // Nothing was made: the form stays open on the deployments page.
  expect(await page.evaluate(() => (globalThis as any).location.hash)).toBe('#/deployments')
}, 60_000)

test('a dynamic deployment for a saved filter is made in the form; a device that comes to match it gets it', async () => {
  const { page } = c
  const lab = { scope: 'identity', attribute: 'fleet', type: '$eq', value: 'lab' }
  const made = await server.call('POST', '/api/management/v2/inventory/filters', {
    token: admin,
    body: { name: 'lab devices', terms: [lab] },
  })
  expect(made.status).toBe(201)
  const first = await acceptedDevice(server, admin, { fleet: 'lab' })
  // The first lab device is a fifth accepted device.
  await openForm(page, devices.length + 1, 0)
  await (await findText(page, 'Devices matching a saved filter', 'label.check')).click()
  const filterId = made.headers.get('location')!.split('/').pop()!
  await choose(page, 'Saved filter', filterId)
  await findText(page, 'reaches 1 device now, and every device that comes to match', '.preview')
  await fill(page, 'At most this many devices (optional)', '5')
  await c.shot('rollout-dynamic-create')
  await submit(page)
  await page.waitForFunction(() => /#\/deployments\/[0-9a-f-]{36}$/.test((globalThis as any).location.hash))
  const id = (await page.evaluate(() => (globalThis as any).location.hash as string)).split('/').pop()!
  await findText(page, 'Dynamic: devices matching the filter lab devices join while it runs, at most 5.')
  const deployment = await getDeployment(server, admin, id)
  expect(deployment).toMatchObject({ dynamic: true, initial_device_count: 1, max_devices: 5 })
  expect(deployment.filter.name).toBe('lab devices')
  // A device accepted later that matches the filter joins and is offered it; the page shows it.
  const later = await acceptedDevice(server, admin, { fleet: 'lab' })
  await waitFor('the new device to be offered it', async () =>
    (await poll(server, later.token)).status === 200 ? true : undefined,
  )
  expect((await poll(server, first.token)).status).toBe(200)
  await page.waitForFunction(
    (ids: string[]) => {
      const text = (globalThis as any).document.querySelector(
        'table[aria-label="Devices of this deployment"]',
      )?.textContent as string | undefined
      return ids.every((deviceId) => text?.includes(deviceId))
    },
    { timeout: 30_000 },
    [first.id, later.id],
  )
  await c.shot('rollout-dynamic')
  expect(c.problems).toEqual([])
}, 90_000)
