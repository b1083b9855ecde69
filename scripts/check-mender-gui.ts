#!/usr/bin/env bun
/**
 * Loads Mender's own web GUI against bender in Debian's chromium and reports what it shows and asks:
 *
 *   bun scripts/check-mender-gui.ts --gui DIST [--shots DIR] [--devices 20]
 *
 * DIST is the `dist/` of a production build of Mender's GUI (github.com/mendersoftware/gui:
 * `npm ci --ignore-scripts && npx webpack --mode production`; a 1 400-package, ten-minute build,
 * which is why this is a script and not part of the test suite). The script seeds a data dir,
 * starts bender, serves DIST under `/ui/` beside bender's API on one origin (as Mender's gateway
 * does), writes the GUI's `env.js` the way Mender's open-source compose file configures it, signs
 * in, and walks the dashboard, devices, one device's page, releases, deployments and settings.
 *
 * It fails (exit 1) when the GUI shows a snackbar banner, a page throws, or any API call the GUI
 * makes is answered with a 4xx or 5xx. Each API path the GUI called is printed with its status.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import puppeteer, { type Page } from 'puppeteer-core'
import { freePort, startBender } from './bench-server.ts'

// Functions handed to page.evaluate run in chromium, where these exist (this project's tsconfig has no DOM).
// biome-ignore lint/suspicious/noExplicitAny: page globals, typed by the browser, not here
declare const document: any, window: any, MutationObserver: any

const { values: args } = parseArgs({
  options: {
    gui: { type: 'string' },
    shots: { type: 'string', default: './test-artifacts/mender-gui' },
    devices: { type: 'string', default: '20' },
  },
})
if (!args.gui) {
  console.error('usage: bun scripts/check-mender-gui.ts --gui DIST [--shots DIR] [--devices N]')
  process.exit(2)
}
const gui = resolve(args.gui)
const shots = resolve(args.shots)
mkdirSync(shots, { recursive: true })
const root = join(import.meta.dir, '..')
const EMAIL = 'gui-check@example.com'
const PASSWORD = 'gui-check-password'

/**
 * The GUI's env.js: configure and troubleshoot on, as Mender's compose setup sets them, and the
 * multitenancy switch on. Without it the GUI never asks for the organization and treats configure
 * as an add-on it lacks; with it, it reads bender's organization (its add-ons) and users' roles.
 */
const ENV_JS = `mender_environment = {
  hostAddress: "", isDemoMode: "false", disableOnboarding: "true",
  features: { hasDeviceConfig: "true", hasDeviceConnect: "true", hasMultitenancy: "true", isEnterprise: "false" },
  integrationVersion: "3.7.0", menderVersion: "3.5", menderArtifactVersion: "3.10",
  services: { guiVersion: "local" }
}`

const dataDir = mkdtempSync(join(tmpdir(), 'bender-gui-'))
const seeded = Bun.spawnSync(
  [
    process.execPath,
    join(root, 'scripts/seed.ts'),
    '--data-dir',
    dataDir,
    '--devices',
    args.devices,
    '--tokens',
  ],
  { stdout: 'inherit', stderr: 'inherit' },
)
if (seeded.exitCode !== 0) process.exit(1)

const { server, base } = await startBender(root, {
  BENDER_DATA_DIR: dataDir,
  BENDER_ADMIN_EMAIL: EMAIL,
  BENDER_ADMIN_PASSWORD: PASSWORD,
})

/** One origin for the GUI and the API, as Mender's gateway serves them. */
const front = Bun.serve({
  port: await freePort(),
  hostname: '127.0.0.1',
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/ui/env.js')
      return new Response(ENV_JS, { headers: { 'content-type': 'text/javascript' } })
    if (url.pathname === '/' || url.pathname.startsWith('/ui')) {
      const file = Bun.file(join(gui, url.pathname.replace(/^\/ui\/?/, '')))
      if (url.pathname.startsWith('/ui/') && (await file.exists()) && !url.pathname.endsWith('/'))
        return new Response(file)
      return new Response(Bun.file(join(gui, 'index.html')), { headers: { 'content-type': 'text/html' } })
    }
    const target = new URL(url.pathname + url.search, base)
    const headers = new Headers(request.headers)
    headers.delete('host')
    const body = ['GET', 'HEAD'].includes(request.method) ? undefined : await request.arrayBuffer()
    return fetch(target, { method: request.method, headers, body, redirect: 'manual' })
  },
})
const origin = `http://127.0.0.1:${front.port}`

async function api(path: string, init: RequestInit = {}, token?: string) {
  const headers = new Headers(init.headers)
  if (token) headers.set('authorization', `Bearer ${token}`)
  return fetch(`${base}${path}`, { ...init, headers })
}

const login = await api('/api/management/v1/useradm/auth/login', {
  method: 'POST',
  headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
})
const token = await login.text()
/**
 * One device that arrives the way a real one does (an auth request signed with its key, then
 * accepted by the operator), so every service has heard of it: deviceconnect knows it as
 * disconnected, inventory has its identity. The seeded devices fill the lists around it.
 */
async function acceptNewDevice(): Promise<{ id: string; deviceToken: string }> {
  const keys = generateKeyPairSync('ed25519')
  const body = JSON.stringify({
    id_data: JSON.stringify({ mac: '02:00:00:00:ff:01' }),
    pubkey: keys.publicKey.export({ type: 'spki', format: 'pem' }),
  })
  const signature = sign(null, Buffer.from(body), keys.privateKey).toString('base64')
  const authRequest = () =>
    api('/api/devices/v1/authentication/auth_requests', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-men-signature': signature },
      body,
    })
  const asked = await authRequest()
  if (asked.status !== 401) throw new Error(`the new device's auth request answered ${asked.status}`)
  const pending = (await (
    await api('/api/management/v2/devauth/devices?status=pending', {}, token)
  ).json()) as { id: string; auth_sets: { id: string }[] }[]
  const device = pending[0]!
  const accepted = await api(
    `/api/management/v2/devauth/devices/${device.id}/auth/${device.auth_sets[0]!.id}/status`,
    {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'accepted' }),
    },
    token,
  )
  if (accepted.status !== 204) throw new Error(`accepting the new device answered ${accepted.status}`)
  const authorized = await authRequest()
  if (authorized.status !== 200)
    throw new Error(`the accepted device's auth request answered ${authorized.status}`)
  return { id: device.id, deviceToken: await authorized.text() }
}
const { id: deviceId, deviceToken } = await acceptNewDevice()
/** The operator's wish and what the device says it applied, as mender-configure would report it. */
const CONFIGURATION = { region: 'eu', mode: 'kiosk' }
const configured = await api(
  `/api/management/v1/deviceconfig/configurations/device/${deviceId}`,
  { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CONFIGURATION) },
  token,
)
if (configured.status !== 204)
  throw new Error(`setting the device's configuration answered ${configured.status}`)
const reported = await api(
  '/api/devices/v1/deviceconfig/configuration',
  { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CONFIGURATION) },
  deviceToken,
)
if (reported.status !== 204)
  throw new Error(`reporting the device's configuration answered ${reported.status}`)

const calls = new Map<string, number>()
const problems: string[] = []
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US'],
})

/** Records every snackbar message the GUI shows (they disappear after a few seconds). */
const WATCH_SNACKBARS = () => {
  const seen: string[] = []
  window.__snackbars = seen
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('.MuiSnackbarContent-message')) {
      const text = el.textContent?.trim()
      if (text && !seen.includes(text)) seen.push(text)
    }
  }).observe(document, { childList: true, subtree: true, characterData: true })
}

async function visit(page: Page, path: string, name: string) {
  await page.goto(`${origin}${path}`, { waitUntil: 'networkidle0' })
  await Bun.sleep(1500)
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
}

let exitCode = 0
try {
  const page = await browser.newPage()
  await page.setViewport({ width: 1400, height: 900 })
  page.setDefaultTimeout(60_000)
  await page.evaluateOnNewDocument(WATCH_SNACKBARS)
  page.on('pageerror', (err) =>
    problems.push(`page error: ${(err as Error).message} ${(err as Error).stack ?? ''}`.slice(0, 600)),
  )
  page.on('response', (response) => {
    const url = new URL(response.url())
    if (!url.pathname.startsWith('/api/')) return
    const key = `${response.request().method()} ${url.pathname.replace(/[0-9a-f-]{36}/g, ':id')}`
    calls.set(key, Math.max(calls.get(key) ?? 0, response.status()))
  })

  await page.goto(`${origin}/ui/`, { waitUntil: 'networkidle0' })
  await page.type('#email', EMAIL)
  await page.type('#password', PASSWORD)
  await page.click('button[type=submit]')
  // The GUI routes in the page (no navigation): signed in once the login form is gone.
  await page.waitForFunction(() => !document.querySelector('#password'))
  await page.waitForNetworkIdle()
  await Bun.sleep(2000)
  await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true })
  await visit(page, '/ui/devices/accepted', 'devices')
  await visit(page, `/ui/devices/accepted?id=${deviceId}`, 'device')
  const [tab] = await page.$$('xpath/.//button[normalize-space()="Configuration"]')
  if (!tab) throw new Error('the device page has no Configuration tab')
  await tab.click()
  // The configuration the device reported, as the GUI lists it (key and value).
  await page.waitForFunction(() => document.body.textContent.includes('kiosk'))
  await Bun.sleep(1000)
  await page.screenshot({ path: join(shots, 'device-configuration.png'), fullPage: true })
  await visit(page, '/ui/releases', 'releases')
  await visit(page, '/ui/deployments', 'deployments')
  await visit(page, '/ui/settings', 'settings')
  const snackbars = await page.evaluate(() => window.__snackbars)
  for (const text of snackbars) problems.push(`banner: ${text}`)
} catch (err) {
  problems.push(`check stopped: ${(err as Error).message}`)
} finally {
  await browser.close()
  front.stop(true)
  server.kill()
  await server.exited
  rmSync(dataDir, { recursive: true, force: true })
}

/**
 * Enterprise-only routes the GUI tries and expects an open-source server to refuse: it catches the
 * 404 ("likely accessing a non-RBAC backend") and shows nothing. Mender's own open-source server
 * answers them 404 too.
 */
const ENTERPRISE_ONLY = new Set([
  'GET /api/management/v2/useradm/roles',
  'GET /api/management/v2/useradm/permission_sets',
])
/**
 * The GUI saves the user's settings twice at once after sign-in, both with the ETag it just read
 * (If-Match): the second is refused with 412 as Mender's own useradm refuses it, and the GUI keeps
 * what it shows. Any other status on that call is still a problem.
 */
const RACED_SAVE = 'POST /api/management/v1/useradm/settings/me'

console.log('API calls the GUI made (highest status seen):')
for (const [call, status] of [...calls].sort()) {
  const expected = (status === 404 && ENTERPRISE_ONLY.has(call)) || (status === 412 && call === RACED_SAVE)
  console.log(`  ${status}  ${call}${expected ? '  (expected: see ENTERPRISE_ONLY and RACED_SAVE)' : ''}`)
  if (status >= 400 && !expected) problems.push(`${call} answered ${status}`)
}
console.log(`screenshots in ${shots}`)
if (problems.length > 0) {
  exitCode = 1
  console.log('problems:')
  for (const problem of problems) console.log(`  - ${problem}`)
} else {
  console.log('no banner, no page error, no failed API call')
}
process.exit(exitCode)
