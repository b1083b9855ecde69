import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'puppeteer-core'
import { loginAs } from '../helpers/app.ts'
import {
  type ConsolePage,
  clickNamed,
  fill,
  findText,
  launchBrowser,
  openPage,
  signIn,
} from '../helpers/browser.ts'
import { startConnectedDevice } from '../helpers/mender-connect.ts'
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

/**
 * The console's remote terminal against a real device: the Debian mender client and mender-connect
 * on a private D-Bus, bender over plain HTTP on loopback, xterm.js in Debian's chromium.
 */

let server: TestServer
let admin: string
let browser: Browser
let device: Awaited<ReturnType<typeof startConnectedDevice>>
let c: ConsolePage
let downloads: string

const sessions = async () => {
  const res = await fetch(
    `${server.url}/api/management/v1/deviceconnect/sessions?device_id=${device.deviceId}`,
    {
      headers: { authorization: `Bearer ${admin}` },
    },
  )
  return (await res.json()) as { type: string; end_ts?: string; ended?: string }[]
}

beforeAll(async () => {
  downloads = mkdtempSync(join(tmpdir(), 'bender-console-downloads-'))
  server = await startTestServer()
  admin = (await loginAs(server)).token
  device = await startConnectedDevice(server.url, admin)
  browser = await launchBrowser()
  c = await openPage(browser, server.url)
  await signIn(c.page, 'admin@example.com', 'correct-horse-1')
}, 150_000)

afterAll(async () => {
  await browser?.close()
  await device?.close()
  await server?.stop()
  if (downloads) rmSync(downloads, { recursive: true, force: true })
})

test('a command typed in the device page terminal runs on the device and its output shows', async () => {
  const { page } = c
  await page.goto(`${server.url}/#/devices/${device.deviceId}`)
  await page.waitForSelector('section[aria-label="Troubleshoot"] .status-connected')
  const screen = 'section[aria-label="Terminal"] .xterm-rows'
  // mender-connect reconnects when the mender daemon hands it a fresh token, and bender then ends
  // the sessions of the replaced connection: the page says so, and a person opens a new terminal.
  const seen: string[] = []
  for (let opened = 1; ; opened++) {
    await clickNamed(page, 'Open terminal')
    await page.waitForSelector(screen)
    // Typed once the shell's prompt shows (typed earlier, the tty echoes it before the prompt).
    const prompt = await page
      .waitForFunction(
        (sel: string) => /[$#]/.test((globalThis as any).document.querySelector(sel)?.textContent ?? ''),
        { timeout: 20_000 },
        screen,
      )
      .then(() => true)
      .catch(() => false)
    if (prompt) break
    seen.push(await page.$eval(screen, (el: any) => el.textContent))
    if (opened === 3) {
      throw new Error(
        `no prompt; the terminal showed ${JSON.stringify(seen)}; mender-connect: ${device.connect.log().slice(-3000)}`,
      )
    }
    await clickNamed(page, 'Close terminal')
  }
  // The shell starts on the device after the session opens: type again until it answers, as a
  // person would at a slow prompt.
  for (let tries = 0; ; tries++) {
    await page.focus('section[aria-label="Terminal"] textarea')
    await page.keyboard.type('echo bender-$((6*7))-ok\n')
    const shown = await page
      .waitForFunction(
        (sel: string) =>
          (globalThis as any).document.querySelector(sel)?.textContent.includes('bender-42-ok'),
        { timeout: 5000 },
        screen,
      )
      .then(() => true)
      .catch(() => false)
    if (shown) break
    if (tries > 10) throw new Error('the terminal never showed the answer')
  }
  // The command itself is echoed as typed; its answer is a line of its own.
  const text: string = await page.$eval(screen, (el: any) => el.textContent)
  expect(text).toContain('echo bender-$((6*7))-ok')
  await c.shot('device-terminal')
  expect((await sessions())[0]!.type).toBe('remote')
  // The token went to the handshake only: no JWT cookie is left behind.
  expect(await page.evaluate(() => (globalThis as any).document.cookie)).not.toContain('JWT=')
  await clickNamed(page, 'Close terminal')
  await page.waitForSelector('::-p-text(Open terminal)')
  expect(c.problems).toEqual([])
}, 120_000)

test("a file is downloaded from the device page; a missing one shows the server's reason", async () => {
  const { page } = c
  const cdp = await page.createCDPSession()
  await cdp.send('Page.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads })
  await fill(page, 'File on the device', '/etc/hostname')
  await clickNamed(page, 'Download file')
  await findText(page, 'Downloaded hostname.', '[role=status]', 30_000)
  const saved = await waitFor('the download', () =>
    existsSync(join(downloads, 'hostname')) ? readFileSync(join(downloads, 'hostname')) : undefined,
  )
  expect(saved).toEqual(readFileSync('/etc/hostname'))
  await fill(page, 'File on the device', '/nonexistent/bender-file')
  await clickNamed(page, 'Download file')
  const alert = await findText(
    page,
    'Request id',
    'form[aria-label="Download a file from the device"] [role=alert]',
    30_000,
  )
  expect(await alert.evaluate((el: any) => el.textContent)).toMatch(/no such file/i)
  await c.shot('device-download-refused')
}, 90_000)
