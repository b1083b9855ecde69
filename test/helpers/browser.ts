import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core'
import { ROOT } from './server.ts'

/** Debian's chromium (scripts/test installs the package when missing); never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium'
/** Screenshots of each step, kept as test artifacts (gitignored). */
export const SHOTS_DIR = join(ROOT, 'test-artifacts/console')

export const LAPTOP = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }

export function launchBrowser(): Promise<Browser> {
  mkdirSync(SHOTS_DIR, { recursive: true })
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Tests run as root in CI, where chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=en-US'],
  })
}

export type ConsolePage = {
  page: Page
  /** Problems the page itself reported: CSP violations, script errors, failed loads. */
  problems: string[]
  shot(name: string): Promise<void>
}

/** A fresh, isolated page (own sessionStorage) at `url`, recording what goes wrong in it. */
export async function openPage(browser: Browser, url: string, viewport = LAPTOP): Promise<ConsolePage> {
  const context = await browser.createBrowserContext()
  const page = await context.newPage()
  await page.setViewport(viewport)
  page.setDefaultTimeout(60_000)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${(err as Error).message}`))
  page.on('console', (message) => {
    const text = message.text()
    // An API error answered to the page (a wrong password, a refused token) is logged by chromium
    // as a failed resource; those are expected. A CSP violation or script error is not.
    if (message.type() === 'error' && !text.startsWith('Failed to load resource')) problems.push(text)
  })
  if (process.env.DEBUG_CONSOLE) {
    page.on('requestfinished', (r) => console.log('done', r.url(), r.response()?.status()))
    page.on('requestfailed', (r) => console.log('failed', r.url(), r.failure()?.errorText))
    page.on('request', (r) => console.log('start', r.url()))
  }
  await page.goto(url, { waitUntil: 'networkidle0' })
  return {
    page,
    problems,
    shot: async (name) => {
      await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true })
    },
  }
}

// Functions below run inside the page (puppeteer sends their source), so they reach `document`
// through globalThis: the tests compile without DOM types.

/** Waits for an element whose text contains `text` (optionally of a CSS selector) and returns it. */
export async function findText(page: Page, text: string, selector = '*', timeout = 60_000) {
  const handle = await page.waitForFunction(
    (sel: string, wanted: string) =>
      [...(globalThis as any).document.querySelectorAll(sel)]
        .reverse()
        .find((el: any) => el.textContent?.includes(wanted)),
    { timeout, polling: 100 },
    selector,
    text,
  )
  return handle as ElementHandle<any>
}

/** The enabled, visible button or link named `name` (its aria-label, else its text). */
export async function named(page: Page, name: string) {
  const handle = await page.waitForFunction(
    (wanted: string) =>
      [...(globalThis as any).document.querySelectorAll('button, a, summary')].find(
        (el: any) =>
          (el.getAttribute('aria-label') ?? el.textContent?.trim()) === wanted &&
          !el.disabled &&
          el.offsetParent !== null,
      ),
    { polling: 100 },
    name,
  )
  return handle as ElementHandle<any>
}

/** Clicks the button or link named `name`. */
export async function clickNamed(page: Page, name: string): Promise<void> {
  await (await named(page, name)).click()
}

/** The input, select or textarea inside the visible `<label>` whose own text is `label`. */
export async function control(page: Page, label: string) {
  const handle = await page.waitForFunction(
    (wanted: string) =>
      [...(globalThis as any).document.querySelectorAll('label')]
        .filter((el: any) => el.firstChild?.textContent?.trim() === wanted && el.offsetParent !== null)
        .map((el: any) => el.querySelector('input, select, textarea'))
        .find(Boolean),
    { polling: 100 },
    label,
  )
  return handle as ElementHandle<any>
}

/** Chooses `value` in the select labelled `label`, once its options (loaded after the form opens) list it. */
export async function choose(page: Page, label: string, value: string): Promise<void> {
  await page.waitForFunction(
    (name: string) =>
      [...(globalThis as any).document.querySelectorAll('option')].some((o: any) => o.value === name),
    {},
    value,
  )
  await (await control(page, label)).select(value)
}

/** Types into the form control labelled `label`, replacing its value. */
export async function fill(page: Page, label: string, value: string): Promise<void> {
  const input = await control(page, label)
  await input.evaluate((el) => {
    el.value = ''
  })
  await input.type(value)
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await fill(page, 'Email', email)
  await fill(page, 'Password', password)
  await clickNamed(page, 'Sign in')
  await page.waitForSelector('nav[aria-label="Sections"]')
}
