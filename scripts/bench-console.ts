#!/usr/bin/env bun
/**
 * The console's first load and its device table, in Debian's chromium, against bender over a
 * seeded data dir (scripts/seed.ts; seeded here first when the dir has no database):
 *
 *   bun scripts/bench-console.ts [--data-dir ./data] [--devices 10000] [--pages 10]
 *
 * Reports: the compressed bytes of the first load (page + scripts + styles, gzip as served); the
 * cold first load (navigation to the sign-in form drawn, fresh browser context), median of 5; the
 * device table's page time (click "Next page" to the new rows in the page, timed in the page), median over --pages pages,
 * beside the same search as a bare API call and a bare API round trip (the `alive` probe), all in
 * the same run.
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import puppeteer from 'puppeteer-core'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: './data' },
    devices: { type: 'string', default: '10000' },
    pages: { type: 'string', default: '10' },
  },
})
const root = join(import.meta.dir, '..')
const dataDir = args['data-dir']
const EMAIL = 'bench@example.com'
const PASSWORD = 'bench-password'

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const ms = (value: number) => `${value.toFixed(1)} ms`

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => done(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

if (!existsSync(join(dataDir, 'bender.db'))) {
  const seeded = Bun.spawnSync(
    [process.execPath, join(root, 'scripts/seed.ts'), '--data-dir', dataDir, '--devices', args.devices],
    { stdout: 'inherit', stderr: 'inherit' },
  )
  if (seeded.exitCode !== 0) process.exit(1)
}

const apiPort = await freePort()
const url = `http://127.0.0.1:${apiPort}`
const server = Bun.spawn([process.execPath, join(root, 'src/main.ts'), 'serve'], {
  env: {
    ...process.env,
    BENDER_DATA_DIR: dataDir,
    BENDER_API_PORT: String(apiPort),
    BENDER_STORAGE_PORT: String(await freePort()),
    BENDER_PUBLIC_URL: url,
    BENDER_ADMIN_EMAIL: EMAIL,
    BENDER_ADMIN_PASSWORD: PASSWORD,
    BENDER_LOG_LEVEL: 'warn',
  },
  stdout: 'ignore',
  stderr: 'inherit',
})
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${url}/api/internal/v1/useradm/alive`)).status === 204) break
  } catch {}
  if (i > 200) throw new Error('bender did not start')
  await Bun.sleep(50)
}

try {
  // First-load bytes as a browser gets them (gzip).
  const gz = { 'accept-encoding': 'gzip' }
  const page = await fetch(`${url}/`, { headers: gz })
  const html = await page.text()
  let compressed = Number(page.headers.get('content-length'))
  for (const [, asset] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
    const res = await fetch(`${url}${asset}`, { headers: gz, decompress: false } as RequestInit)
    compressed += (await res.arrayBuffer()).byteLength
  }
  console.log(`first load: ${(compressed / 1024).toFixed(1)} KiB compressed (page, scripts and styles)`)

  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  })
  const loads: number[] = []
  for (let i = 0; i < 5; i++) {
    const context = await browser.createBrowserContext()
    const tab = await context.newPage()
    const start = performance.now()
    await tab.goto(url)
    await tab.waitForSelector('input[type=password]')
    loads.push(performance.now() - start)
    await context.close()
  }
  console.log(`cold first load to the sign-in form: ${ms(median(loads))} (median of 5)`)

  const context = await browser.createBrowserContext()
  const tab = await context.newPage()
  await tab.setViewport({ width: 1280, height: 800 })
  await tab.goto(url)
  await tab.type('input[type=email]', EMAIL)
  await tab.type('input[type=password]', PASSWORD)
  await tab.click('button[type=submit]')
  await tab.waitForSelector('nav[aria-label="Sections"]')
  await tab.goto(`${url}/#/devices`)
  await tab.waitForSelector('table[aria-busy="false"]')
  const pager = () => tab.$eval('nav[aria-label="Devices pages"] span', (el) => el.textContent)
  const pageTimes: number[] = []
  for (let i = 0; i < Number(args.pages); i++) {
    const before = await pager()
    // Timed inside the page, from the click to the new page's rows in the document.
    await tab.$eval('nav[aria-label="Devices pages"] button:last-of-type', (button: any) => {
      ;(globalThis as any).clickedAt = performance.now()
      button.click()
    })
    const drawn = await tab.waitForFunction(
      (old) => {
        const doc = (globalThis as any).document
        const changed =
          doc.querySelector('nav[aria-label="Devices pages"] span')?.textContent !== old &&
          doc.querySelector('table[aria-busy="false"]')
        return changed ? performance.now() - (globalThis as any).clickedAt : undefined
      },
      { polling: 'mutation' },
      before,
    )
    pageTimes.push((await drawn.jsonValue()) as number)
  }
  const total = await tab.$eval('nav[aria-label="Devices pages"] span', (el) => el.textContent)
  await browser.close()

  const token = await (
    await fetch(`${url}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
    })
  ).text()
  const searches: number[] = []
  const alive: number[] = []
  for (let i = 0; i < Number(args.pages); i++) {
    let start = performance.now()
    await (
      await fetch(`${url}/api/management/v2/inventory/filters/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          page: i + 2,
          per_page: 20,
          filters: [{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }],
          attributes: ['status', 'mac', 'serial', 'sku', 'name']
            .map((attribute) => ({ scope: 'identity', attribute }))
            .concat(
              ['device_type', 'artifact_name'].map((attribute) => ({ scope: 'inventory', attribute })),
              ['group', 'check_in_time'].map((attribute) => ({ scope: 'system', attribute })),
            ),
        }),
      })
    ).arrayBuffer()
    searches.push(performance.now() - start)
    start = performance.now()
    await (await fetch(`${url}/api/internal/v1/useradm/alive`)).arrayBuffer()
    alive.push(performance.now() - start)
  }
  console.log(
    `device table (${total}): next page drawn in ${ms(median(pageTimes))} (median of ${args.pages})`,
  )
  console.log(
    `  the same search as a bare API call: ${ms(median(searches))}; a bare API round trip: ${ms(median(alive))}`,
  )
} finally {
  server.kill()
  await server.exited
}
