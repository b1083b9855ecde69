import { rmSync } from 'node:fs'
import { startServer } from '../../src/server.ts'
import { createTestApp } from './app.ts'

/** A port nothing listens on right now (the OS picks it); the caller retries if it is taken meanwhile. */
async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

/**
 * bender as a real HTTP server on loopback over a fresh data dir, for tools that run as separate
 * processes (the mender client). Ports are picked free at start, since other test runs share the machine.
 */
export async function startTestServer(env: Record<string, string> = {}) {
  for (let attempt = 1; ; attempt++) {
    const t = await createTestApp({
      BENDER_API_PORT: String(await freePort()),
      BENDER_STORAGE_PORT: String(await freePort()),
      ...env,
    })
    try {
      const running = startServer(t.deps, t.app, () => t.services.inventory.stop())
      return {
        ...t,
        url: `http://127.0.0.1:${running.api.port}`,
        async stop() {
          await running.stop()
          rmSync(t.dir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      t.close()
      if (attempt === 5 || (err as { code?: string }).code !== 'EADDRINUSE') throw err
    }
  }
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>

/** Polls `check` until it returns a value, failing after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(200)
  }
}
