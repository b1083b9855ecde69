import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'puppeteer-core'
import { loginAs } from '../helpers/app.ts'
import {
  type ConsolePage,
  choose,
  clickNamed,
  findText,
  launchBrowser,
  openPage,
  signIn,
} from '../helpers/browser.ts'
import { createMenderClient, singleFileArtifact as makeSingleFileArtifact } from '../helpers/mender.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * A real Debian mender client (daemon mode) run entirely from the console: accepted, updated and
 * its failed install's log read, with no API call by the test beyond reading what the page shows.
 */

const DEVICE_TYPE = 'console-device'
const STEP_MS = 90_000

let server: TestServer
let browser: Browser
let client: ReturnType<typeof createMenderClient>
let work: string
let c: ConsolePage

const singleFileArtifact = (name: string, dest: string, content: Uint8Array) =>
  makeSingleFileArtifact(work, DEVICE_TYPE, name, dest, content)

async function uploadInConsole(page: Page, file: string, name: string) {
  await clickNamed(page, 'Releases')
  await clickNamed(page, 'Upload an artifact')
  const input = await page.waitForSelector('input[type=file][accept=".mender"]')
  await input!.uploadFile(file)
  await clickNamed(page, 'Upload')
  await findText(page, `Uploaded ${name}`, '[role=status]', STEP_MS)
}

async function deployInConsole(page: Page, release: string) {
  await clickNamed(page, 'Deployments')
  await clickNamed(page, 'Create a deployment')
  await choose(page, 'Release', release)
  await findText(page, 'This deployment reaches 1 device.', '.preview')
  await c.shot(`deployment-create-${release}`)
  await page.$eval('form[aria-label="Create a deployment"] button[type=submit]', (b: any) => b.click())
  await page.waitForFunction(() => /#\/deployments\/[0-9a-f-]{36}$/.test((globalThis as any).location.hash))
}

/** Waits, without reloading (the page follows the event stream), for the device's final status. */
const deviceStatusShown = (page: Page, status: string) =>
  page.waitForSelector(`table[aria-label="Devices of this deployment"] .status-${status}`, {
    timeout: STEP_MS,
  })

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bender-console-fleet-'))
  server = await startTestServer()
  await loginAs(server)
  browser = await launchBrowser()
  c = await openPage(browser, server.url)
  await signIn(c.page, 'admin@example.com', 'correct-horse-1')
  client = createMenderClient(server.url, DEVICE_TYPE, { artifactName: 'factory-1' })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await client?.close()
  await server?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

test(
  'the real client shows up as pending live, without a reload, and is accepted from its device page',
  async () => {
    const { page } = c
    await page.goto(`${server.url}/#/devices?status=pending`)
    await page.waitForSelector('::-p-text(No device is waiting for a decision)')
    client.startDaemon()
    // The page was loaded before the device asked: it learns of it from the event stream.
    await page.waitForSelector('table[aria-label="pending devices"] tbody a', { timeout: STEP_MS })
    await c.shot('devices-pending')
    await page.click('table[aria-label="pending devices"] tbody a')
    await findText(page, 'Authentication', 'h2')
    await findText(page, 'SHA256:', 'code.fingerprint')
    await c.shot('device-pending')
    await clickNamed(page, 'Accept')
    await page.waitForSelector('.auth-set .status-accepted')
    // The client sends its inventory once accepted; the page shows it after a reload.
    for (let tries = 0; !(await page.$(`::-p-text(${DEVICE_TYPE})`)); tries++) {
      if (tries > 60) throw new Error('the inventory never arrived')
      await Bun.sleep(1000)
      await page.reload({ waitUntil: 'load' })
    }
    await c.shot('device-accepted')
  },
  2 * STEP_MS,
)

test(
  'a deployment created in the console reaches success on its page while the daemon installs it',
  async () => {
    const { page } = c
    const dest = join(client.dir, 'dest')
    const content = crypto.getRandomValues(new Uint8Array(32 * 1024))
    await uploadInConsole(page, singleFileArtifact('console-app-1', dest, content), 'console-app-1')
    await deployInConsole(page, 'console-app-1')
    await deviceStatusShown(page, 'success')
    await findText(page, '1 of 1 devices done')
    const row = await page.$$eval('table[aria-label="Devices of this deployment"] tr', (rows: any[]) =>
      rows.map((r) => [...r.children].map((cell: any) => cell.textContent.trim())),
    )
    expect(row[0]!.at(-1)).toBe('Attempts')
    expect(row[1]!.at(-1)).toBe('1')
    await c.shot('deployment-success')
    expect(new Uint8Array(readFileSync(join(dest, 'app.conf')))).toEqual(content)
  },
  3 * STEP_MS,
)

test(
  "a failed install's log is readable in the console",
  async () => {
    const { page } = c
    await uploadInConsole(
      page,
      singleFileArtifact('console-broken-1', '/proc/bender-console/nowhere', new Uint8Array(16)),
      'console-broken-1',
    )
    await deployInConsole(page, 'console-broken-1')
    await deviceStatusShown(page, 'failure')
    await clickNamed(page, 'Show log')
    const log = await findText(
      page,
      '/proc/bender-console',
      'section[aria-label="Deployment log"] pre',
      STEP_MS,
    )
    expect(await log.evaluate((el: any) => el.textContent)).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/)
    await c.shot('deployment-failure-log')
    expect(c.problems).toEqual([])
  },
  3 * STEP_MS,
)
