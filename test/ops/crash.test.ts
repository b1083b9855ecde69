import { afterAll, expect, test } from 'bun:test'
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createTestApp, loginAs } from '../helpers/app.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { type RunningServer, startBender, waitFor } from '../helpers/server.ts'

const ARTIFACTS = '/api/management/v1/deployments/artifacts'
const ADMIN = { BENDER_ADMIN_EMAIL: 'ops@example.com', BENDER_ADMIN_PASSWORD: 'ops-password-1' }
const servers: RunningServer[] = []
afterAll(async () => {
  for (const server of servers) await server.stop()
})

const tempFiles = (dir: string) =>
  (readdirSync(dir, { recursive: true }) as string[]).filter((name) => name.endsWith('.tmp'))

test('a restart after kill -9 during an upload removes the half-written temp file', async () => {
  const first = await startBender({ env: ADMIN })
  const dataDir = first.dataDir
  const login = await fetch(`${first.url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa('ops@example.com:ops-password-1')}` },
  })
  const token = await login.text()
  // A multipart body that sends its start and then stalls, as a slow client would.
  const boundary = 'crash-boundary'
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="a.mender"\r\n\r\n`
  const artifact = buildArtifact({
    name: 'crash-1',
    payloads: [
      { type: 'single-file', files: { 'big.bin': crypto.getRandomValues(new Uint8Array(4 << 20)) } },
    ],
  })
  let sent = false
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent) return new Promise(() => {})
      controller.enqueue(new TextEncoder().encode(head))
      controller.enqueue(artifact.subarray(0, 2 << 20))
      sent = true
    },
  })
  fetch(`${first.url}${ARTIFACTS}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
    },
    body,
  }).catch(() => {})
  const artifactsDir = join(dataDir, 'artifacts')
  await waitFor('a temp file of the upload', () => (tempFiles(artifactsDir).length > 0 ? true : undefined))
  first.proc.kill('SIGKILL')
  await first.proc.exited
  expect(tempFiles(artifactsDir).length).toBe(1)

  const second = await startBender({ dataDir, env: ADMIN })
  servers.push(second)
  expect(tempFiles(artifactsDir)).toEqual([])
  expect(second.output()).toContain('temp_files=1')
  rmSync(dataDir, { recursive: true, force: true })
})

test('the download link of an artifact whose file is gone is a 410 and an error in the log', async () => {
  const t = await createTestApp()
  try {
    const { token } = await loginAs(t)
    const form = new FormData()
    form.append('artifact', new Blob([buildArtifact({ name: 'lost-1' })]), 'lost.mender')
    const created = await t.call('POST', ARTIFACTS, { token, raw: form })
    const id = created.headers.get('location')!.split('/').at(-1)!
    rmSync(join(t.deps.config.storageDir, id))
    const res = await t.call('GET', `${ARTIFACTS}/${id}/download`, { token })
    expect(res.status).toBe(410)
    expect(res.json.error).toBe("the artifact's file is missing from the artifact store")
    const requestId = res.headers.get('x-men-requestid')!
    const line = t.logLines.find((l) => l.includes('level=error') && l.includes(id))
    expect(line).toContain(`request_id=${requestId}`)
    // Still listed, so the user can see it and delete it.
    expect((await t.call('GET', `${ARTIFACTS}/${id}`, { token })).status).toBe(200)
  } finally {
    await t.close()
  }
})
