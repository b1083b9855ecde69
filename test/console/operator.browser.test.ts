import { afterAll, beforeAll, expect, test } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'puppeteer-core'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import {
  type ConsolePage,
  clickNamed,
  control,
  fill,
  findText,
  launchBrowser,
  named,
  openPage,
  PHONE,
  signIn,
} from '../helpers/browser.ts'
import { ROOT, type RunningServer, run, startBender, waitFor } from '../helpers/server.ts'

/**
 * An operator's day in the console over a seeded fleet of 10 000 devices: bender as a real
 * process over a data dir filled by scripts/seed.ts, driven in Debian's chromium.
 */

const EMAIL = 'ops@example.com'
const PASSWORD = 'ops-password'
const FLEET = 10_000

let browser: Browser
let server: RunningServer
let work: string
let token: string
let c: ConsolePage

async function api(method: string, path: string, body?: unknown, bearer = token) {
  const res = await fetch(`${server.url}/api/management${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  return res
}

async function total(filters: unknown[]): Promise<number> {
  const res = await api('POST', '/v2/inventory/filters/search', { page: 1, per_page: 1, filters })
  return Number(res.headers.get('x-total-count'))
}

const accepted = { scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }
const pagerText = (page: Page) =>
  page.$eval('nav[aria-label="Devices pages"] span', (el: any) => el.textContent)
const rows = (page: Page) => page.$$eval('table[aria-label="accepted devices"] tbody tr', (trs) => trs.length)
const idle = (page: Page) => page.waitForSelector('table[aria-busy="false"]')

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bender-console-'))
  const dataDir = join(work, 'data')
  const seeded = await run(
    [process.execPath, join(ROOT, 'scripts/seed.ts'), '--data-dir', dataDir, '--devices', String(FLEET)],
    {
      cwd: ROOT,
      timeoutMs: 120_000,
    },
  )
  expect(seeded.code).toBe(0)
  server = await startBender({ dataDir, env: { BENDER_ADMIN_EMAIL: EMAIL, BENDER_ADMIN_PASSWORD: PASSWORD } })
  const login = await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
  })
  token = await login.text()
  browser = await launchBrowser()
  c = await openPage(browser, server.url)
  await signIn(c.page, EMAIL, PASSWORD)
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

test('the device table pages, filters, searches and remembers its columns over 10 000 devices', async () => {
  const { page } = c
  await clickNamed(page, 'Devices')
  await page.waitForSelector('table[aria-label="accepted devices"]')
  await idle(page)
  const all = await total([accepted])
  expect(all).toBeGreaterThan(FLEET / 2)
  expect(await rows(page)).toBe(20)
  expect(await pagerText(page)).toBe(`1–20 of ${all.toLocaleString('en-US')}`)
  await c.shot('devices')

  await clickNamed(page, 'Next page')
  await findText(page, `21–40 of ${all.toLocaleString('en-US')}`, 'nav span')
  expect(await rows(page)).toBe(20)

  // Filter builder: inventory device_type equals raspberrypi4.
  await page.waitForFunction(() =>
    [...(globalThis as any).document.querySelectorAll('option')].some(
      (o: any) => o.value === 'inventory/device_type',
    ),
  )
  const attribute = await control(page, 'Attribute')
  await attribute.select('inventory/device_type')
  await fill(page, 'Value', 'raspberrypi4')
  await clickNamed(page, 'Add filter')
  const pi4 = await total([
    accepted,
    { scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'raspberrypi4' },
  ])
  expect(pi4).toBeGreaterThan(20)
  expect(pi4).toBeLessThan(all)
  await findText(page, `1–20 of ${pi4.toLocaleString('en-US')}`, 'nav span')
  await c.shot('devices-filtered')
  await clickNamed(page, 'Clear filters')
  await findText(page, `1–20 of ${all.toLocaleString('en-US')}`, 'nav span')

  // Free text: the last part of a device's id (a word no other device has) finds that device.
  const first = await page.$eval(
    'table tbody tr td:nth-child(2) a',
    (a: any) => a.getAttribute('href') as string,
  )
  const word = first.split('/').pop()!.split('-').pop()!
  await fill(page, 'Search devices', word)
  await clickNamed(page, 'Search')
  await c.shot('devices-search')
  await findText(page, '1–1 of 1', 'nav span')

  // A column chosen from the inventory attributes is kept in the user's settings.
  await fill(page, 'Search devices', ' ')
  await page.$eval('input[type=search]', (el: any) => {
    el.value = ''
  })
  await clickNamed(page, 'Columns')
  await (await findText(page, 'inventory: hostname', 'label.check')).click()
  await page.waitForSelector('th ::-p-text(hostname)')
  // Saved in the background once chosen.
  const saved = await waitFor('the columns to be saved', async () => {
    const settings = (await (await api('GET', '/v1/useradm/settings/me')).json()) as any
    return settings.console_device_columns
  })
  expect(saved).toContainEqual({ scope: 'inventory', attribute: 'hostname' })
  await page.reload({ waitUntil: 'load' })
  await page.waitForSelector('th ::-p-text(hostname)')
}, 120_000)

test('selected devices go into a new group shown in the groups panel; a device is preauthorized', async () => {
  const { page } = c
  await page.goto(`${server.url}/#/devices`)
  await page.reload({ waitUntil: 'load' })
  await idle(page)
  const boxes = await page.$$('table tbody input[type=checkbox]')
  await boxes[0]!.click()
  await boxes[1]!.click()
  await findText(page, '2 devices selected')
  await fill(page, 'Group', 'console-picked')
  await clickNamed(page, 'Add to group')
  await clickNamed(page, 'console-picked')
  await findText(page, 'Devices in console-picked', 'h1')
  await findText(page, '1–2 of 2', 'nav span')
  const group = (await (await api('GET', '/v1/inventory/groups/console-picked/devices')).json()) as string[]
  expect(group).toHaveLength(2)
  await c.shot('devices-group')

  const { publicKey } = generateKeyPairSync('ed25519')
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  await clickNamed(page, 'Preauthorize a device')
  await fill(page, 'Identity (one name=value a line)', 'mac=52:54:00:aa:bb:cc')
  await (await control(page, 'Public key (PEM)')).evaluate((el: any, value: string) => {
    el.value = value
    el.dispatchEvent(new Event('input', { bubbles: true }))
  }, pem)
  await clickNamed(page, 'Preauthorize')
  await page.waitForSelector('table[aria-label="preauthorized devices"] ::-p-text(mac: 52:54:00:aa:bb:cc)')
}, 120_000)

test('an artifact uploads through its direct-upload link with a visible progress bar', async () => {
  const { page } = c
  const file = join(work, 'big-1.mender')
  const payload = crypto.getRandomValues(new Uint8Array(65536))
  const files: Record<string, Uint8Array> = {}
  for (let i = 0; i < 48; i++) files[`part-${i}.bin`] = payload.map((b) => b ^ i)
  writeFileSync(
    file,
    buildArtifact({
      name: 'big-1',
      deviceTypes: ['raspberrypi4'],
      payloads: [{ type: 'single-file', files }],
    }),
  )
  await clickNamed(page, 'Releases')
  await findText(page, 'Releases', 'h1')
  await clickNamed(page, 'Upload an artifact')
  const input = await page.waitForSelector('input[type=file][accept=".mender"]')
  await input!.uploadFile(file)
  // A slow link, so the bar has time to move: ~1 MB/s up.
  const cdp = await page.createCDPSession()
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: 10_000_000,
    uploadThroughput: 1_000_000,
  })
  await clickNamed(page, 'Upload')
  const midway = await page.waitForFunction(
    () => {
      const bar = (globalThis as any).document.querySelector('progress[aria-label="Upload progress"]')
      return bar && bar.value > 0 && bar.value < bar.max ? bar.value / bar.max : undefined
    },
    { polling: 50, timeout: 30_000 },
  )
  expect(await midway.jsonValue()).toBeGreaterThan(0)
  await c.shot('upload-progress')
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  })
  await findText(page, 'Uploaded big-1', '[role=status]', 60_000)
  await findText(page, 'big-1', 'table a')
  await c.shot('releases')
}, 120_000)

test("a broken artifact's upload shows the server's reason for refusing it", async () => {
  const { page } = c
  const file = join(work, 'broken.mender')
  const bytes = crypto.getRandomValues(new Uint8Array(20_000))
  writeFileSync(file, bytes)
  // The words the server's checks use for these bytes, as the synchronous upload answers them.
  const form = new FormData()
  form.append('artifact', new Blob([bytes]))
  const sync = await fetch(`${server.url}/api/management/v1/deployments/artifacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  })
  expect(sync.status).toBe(400)
  const reason = ((await sync.json()) as { error: string }).error
  expect(reason.length).toBeGreaterThan(0)
  const before = await (await api('GET', '/v1/deployments/artifacts')).json()
  await clickNamed(page, 'Releases')
  await findText(page, 'Releases', 'h1')
  // The form may still be open from the upload before.
  if (!(await page.$('form[aria-label="Upload an artifact"]'))) await clickNamed(page, 'Upload an artifact')
  const input = await page.waitForSelector('input[type=file][accept=".mender"]')
  await input!.uploadFile(file)
  await clickNamed(page, 'Upload')
  const alert = await findText(page, 'The server refused the artifact', '[role=alert]', 60_000)
  const shown = (await alert.evaluate((el: any) => el.textContent)) as string
  expect(shown).toContain(reason)
  expect(shown).not.toContain('it is not a valid Mender artifact, or')
  await c.shot('upload-refused')
  expect(await (await api('GET', '/v1/deployments/artifacts')).json()).toEqual(before)
}, 120_000)

test('a personal access token is created, shown once, works, and is revoked', async () => {
  const { page } = c
  await clickNamed(page, 'Settings')
  await fill(page, 'Token name', 'ci-pipeline')
  await clickNamed(page, 'Create token')
  const field = await control(page, 'New token')
  const pat = (await field.evaluate((el: any) => el.value)) as string
  expect(pat.split('.')).toHaveLength(3)
  expect((await api('GET', '/v1/useradm/users/me', undefined, pat)).status).toBe(200)
  await c.shot('settings-token')
  await clickNamed(page, 'Revoke ci-pipeline')
  await page.waitForFunction(
    () => !(globalThis as any).document.querySelector('[aria-label="Revoke ci-pipeline"]'),
  )
  await findText(page, 'No personal access tokens.')
  expect((await api('GET', '/v1/useradm/users/me', undefined, pat)).status).toBe(401)
}, 120_000)

test('a session ended elsewhere brings the person back to the sign-in page; phone width works', async () => {
  const other = await openPage(browser, server.url, PHONE)
  await signIn(other.page, EMAIL, PASSWORD)
  await clickNamed(other.page, 'Devices')
  await other.page.waitForSelector('table[aria-label="accepted devices"]')
  await other.shot('devices-phone')
  const session = (await other.page.evaluate(() =>
    (globalThis as any).sessionStorage.getItem('bender.session'),
  )) as string
  const revoked = await api('POST', '/v1/useradm/auth/logout', undefined, JSON.parse(session).token)
  expect(revoked.status).toBe(202)
  await clickNamed(other.page, 'Next page')
  await findText(other.page, 'Your session ended', '[role=status]')
  await named(other.page, 'Sign in')
  await other.shot('signin-after-revocation')
  expect(c.problems.concat(other.problems)).toEqual([])
}, 120_000)
