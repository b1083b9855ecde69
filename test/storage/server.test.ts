import { expect, test } from 'bun:test'
import { startServer } from '../../src/server.ts'
import { createTestApp } from '../helpers/app.ts'
import { patternStream } from './bytes.ts'

/** A port nothing listens on right now: bound and released, since the config takes no port 0. */
function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  return port
}

test('startServer runs the API and the storage proxy, and stop closes both', async () => {
  const t = await createTestApp({
    BENDER_API_PORT: String(freePort()),
    BENDER_STORAGE_PORT: String(freePort()),
  })
  try {
    const running = await startServer(t.deps, t.app)
    await t.deps.blobs.put('artifacts/served', patternStream(5000).stream)
    const link = new URL(t.deps.links.signDownload('artifacts/served').url)
    const storageUrl = `http://127.0.0.1:${running.storage.port}${link.pathname}${link.search}`
    const download = await fetch(storageUrl)
    expect(download.status).toBe(200)
    expect(download.headers.get('content-length')).toBe('5000')
    await download.arrayBuffer()
    const api = await fetch(`http://127.0.0.1:${running.api.port}/api/management/v1/useradm/users`)
    expect(api.status).toBe(401)
    await running.stop()
    await expect(fetch(storageUrl)).rejects.toThrow()
    await expect(fetch(`http://127.0.0.1:${running.api.port}/`)).rejects.toThrow()
  } finally {
    await t.close()
  }
})
