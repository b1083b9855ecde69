import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Browser } from 'puppeteer-core'
import {
  clickNamed,
  fill,
  findText,
  launchBrowser,
  named,
  openPage,
  PHONE,
  signIn,
} from '../helpers/browser.ts'
import { type RunningServer, startBender, waitFor } from '../helpers/server.ts'

/** First run through the console: bender as a real process, its log, and Debian's chromium. */

let browser: Browser
let server: RunningServer

beforeAll(async () => {
  browser = await launchBrowser()
  server = await startBender()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

const setupLink = () =>
  waitFor(
    'the setup link in the log',
    async () => server.output().match(/open (http\S+#\/setup\/\S+) within an hour/)?.[1],
    10_000,
  )

test('without the setup token nobody can create the first admin', async () => {
  const { page, problems, shot } = await openPage(browser, `${server.url}/#/setup/not-the-token`)
  // The token is taken out of the address bar at once.
  expect(page.url()).toBe(`${server.url}/#/setup`)
  await fill(page, 'Email', 'intruder@example.com')
  await fill(page, 'Password (8 characters or more)', 'intruder-password')
  await fill(page, 'Password again', 'intruder-password')
  await clickNamed(page, 'Create admin and sign in')
  const error = await findText(page, 'The setup link is invalid or has expired', '[role=alert]')
  expect(await error.evaluate((el) => el.textContent)).toMatch(/Request id: [0-9a-f-]{36}\./)
  await shot('setup-refused')
  const status = await fetch(`${server.url}/api/management/v1/useradm/setup`)
  expect(await status.json()).toEqual({ required: true })
  // Nor without any token: the page only explains where the link is.
  await page.reload()
  await findText(page, 'needs the one-time setup link')
  expect(problems).toEqual([])
}, 120_000)

test('the setup link from the log creates the first admin once; sign-in, wrong password, sign-out', async () => {
  const link = await setupLink()
  const { page, problems, shot } = await openPage(browser, link)
  await fill(page, 'Email', 'first@example.com')
  await fill(page, 'Password (8 characters or more)', 'first-password')
  await fill(page, 'Password again', 'first-password')
  await shot('setup-form')
  await clickNamed(page, 'Create admin and sign in')
  await page.waitForSelector('nav[aria-label="Sections"]')
  await findText(page, 'first@example.com')
  await findText(page, 'No device is waiting')
  await shot('dashboard-empty')

  // The link worked once.
  const again = await openPage(browser, link)
  await fill(again.page, 'Email', 'second@example.com')
  await fill(again.page, 'Password (8 characters or more)', 'second-password')
  await fill(again.page, 'Password again', 'second-password')
  await clickNamed(again.page, 'Create admin and sign in')
  await findText(again.page, 'The first user already exists', '[role=alert]')

  await clickNamed(page, 'Sign out')
  await named(page, 'Sign in')
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0)

  await fill(page, 'Email', 'first@example.com')
  await fill(page, 'Password', 'not-the-password')
  await clickNamed(page, 'Sign in')
  await findText(page, 'The email or password is wrong.', '[role=alert]')
  await shot('signin-wrong-password')
  await signIn(page, 'first@example.com', 'first-password')
  await findText(page, 'Dashboard', 'h1')
  expect(problems.concat(again.problems)).toEqual([])

  const phone = await openPage(browser, server.url, PHONE)
  await phone.shot('signin-phone')
}, 180_000)

test('repeated wrong passwords are throttled, and the page says how long to wait', async () => {
  const { page, problems, shot } = await openPage(browser, server.url)
  await fill(page, 'Email', 'guesser@example.com')
  await fill(page, 'Password', 'a-wrong-guess')
  let message = ''
  for (let attempt = 0; attempt < 12 && !message.includes('Too many'); attempt++) {
    await clickNamed(page, 'Sign in')
    // The button is disabled while the request runs; named() waits for it to be enabled again.
    await named(page, 'Sign in')
    message = await (await findText(page, '.', '[role=alert]')).evaluate((el: any) => el.textContent)
  }
  expect(message).toMatch(
    /^Too many failed sign-ins for this email: wait \d+ seconds? and try again\. Request id: /,
  )
  await shot('signin-throttled')
  expect(problems).toEqual([])
}, 120_000)
