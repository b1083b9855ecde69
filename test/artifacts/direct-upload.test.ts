import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { artifactBlobKey } from '../../src/services/artifacts/model.ts'
import { ARTIFACTS, blobKeys, leftovers, makeArtifact, upload } from '../deployments/helpers.ts'
import { loginAs } from '../helpers/app.ts'
import { readEvents, type Sse } from '../helpers/events.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

let dir: string
let s: TestServer
let token: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bender-direct-'))
  s = await startTestServer()
  token = (await loginAs(s)).token
})
afterAll(async () => {
  await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

/** Asks for a link and PUTs `bytes` to it over the real storage proxy. */
async function directUpload(bytes: Uint8Array | Blob): Promise<string> {
  const link = await api('POST', `${ARTIFACTS}/directupload`)
  expect(link.status).toBe(200)
  const { id, uri, expire, method } = (await link.json()) as Record<string, string>
  expect(method).toBe('PUT')
  expect(new URL(uri!).port).toBe(String(s.deps.config.storagePort))
  expect(Date.parse(expire!)).toBeGreaterThan(Date.now())
  const put = await fetch(uri!, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/vnd.mender-artifact' },
  })
  expect(put.status).toBe(200)
  return id!
}

test('a direct upload is checked in the background and appears as an artifact', async () => {
  const path = await makeArtifact(dir, { name: 'direct-1', deviceTypes: ['dev-a'] })
  const id = await directUpload(Bun.file(path))
  const complete = await api('POST', `${ARTIFACTS}/directupload/${id}/complete`, {
    size: Bun.file(path).size,
  })
  expect(complete.status).toBe(202)
  await s.services.artifacts.idle()
  const got = await api('GET', `${ARTIFACTS}/${id}`)
  expect(got.status).toBe(200)
  expect(await got.json()).toMatchObject({ id, name: 'direct-1', size: Bun.file(path).size, description: '' })
  expect(await blobKeys(s)).toEqual([artifactBlobKey('', id)])
  // Settled: a second completion finds nothing pending.
  expect((await api('POST', `${ARTIFACTS}/directupload/${id}/complete`)).status).toBe(404)
})

/** The caller's live event stream, read until an `artifact-upload-refused` event about `id` comes. */
async function refusal(id: string): Promise<() => Promise<Sse>> {
  const res = await fetch(`${s.url}/api/management/v1/events/stream`, {
    headers: { authorization: `Bearer ${token}` },
  })
  expect(res.status).toBe(200)
  const refused = (e: Sse) => e.event === 'artifact-upload-refused' && e.data.subject === id
  const reading = readEvents(res, (events) => events.some(refused))
  return async () => (await reading).find(refused)!
}

test('an invalid direct upload is dropped, its object removed, and the reason sent as an event', async () => {
  const id = await directUpload(crypto.getRandomValues(new Uint8Array(20_000)))
  expect(await blobKeys(s)).toContain(id)
  const refused = await refusal(id)
  expect((await api('POST', `${ARTIFACTS}/directupload/${id}/complete`)).status).toBe(202)
  await s.services.artifacts.idle()
  const event = await refused()
  expect(event.data).toMatchObject({ type: 'artifact-upload-refused', subject: id, data: { id } })
  // The words the synchronous upload answers the same bytes with.
  const form = new FormData()
  form.append('artifact', new Blob([crypto.getRandomValues(new Uint8Array(20_000))]))
  const sync = await fetch(`${s.url}${ARTIFACTS}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  })
  expect(sync.status).toBe(400)
  expect(event.data.data.reason).toBe(((await sync.json()) as { error: string }).error)
  expect((await api('GET', `${ARTIFACTS}/${id}`)).status).toBe(404)
  expect(await blobKeys(s)).not.toContain(id)
  expect(leftovers(s)).toEqual([])
  // Settled: the refused upload cannot be completed again.
  expect((await api('POST', `${ARTIFACTS}/directupload/${id}/complete`)).status).toBe(404)
})

test('a direct upload conflicting with an artifact is dropped too', async () => {
  const existing = await makeArtifact(dir, { name: 'direct-2', deviceTypes: ['dev-b'] })
  expect((await upload(s, token, existing)).status).toBe(201)
  const keys = await blobKeys(s)
  const id = await directUpload(
    Bun.file(await makeArtifact(dir, { name: 'direct-2', deviceTypes: ['dev-b'] })),
  )
  expect((await api('POST', `${ARTIFACTS}/directupload/${id}/complete`)).status).toBe(202)
  await s.services.artifacts.idle()
  expect((await api('GET', `${ARTIFACTS}/${id}`)).status).toBe(404)
  expect(await blobKeys(s)).toEqual(keys)
})

test('completing an unknown upload, or one whose object never arrived, is a 404', async () => {
  const unknown = await api('POST', `${ARTIFACTS}/directupload/${crypto.randomUUID()}/complete`)
  expect(unknown.status).toBe(404)
  expect(((await unknown.json()) as { error: string }).error).toBe('Resource not found')
  const link = (await (await api('POST', `${ARTIFACTS}/directupload`)).json()) as { id: string; uri: string }
  expect((await api('POST', `${ARTIFACTS}/directupload/${link.id}/complete`)).status).toBe(404)
  // The upload stays pending: once its object arrives it can be completed.
  const path = await makeArtifact(dir, { name: 'direct-3' })
  expect((await fetch(link.uri, { method: 'PUT', body: Bun.file(path) })).status).toBe(200)
  expect((await api('POST', `${ARTIFACTS}/directupload/${link.id}/complete`)).status).toBe(202)
  await s.services.artifacts.idle()
  expect((await api('GET', `${ARTIFACTS}/${link.id}`)).status).toBe(200)
})

test('a link whose upload was settled takes no more bytes, read or stored', async () => {
  const link = (await (await api('POST', `${ARTIFACTS}/directupload`)).json()) as { id: string; uri: string }
  const junk = crypto.getRandomValues(new Uint8Array(20_000))
  expect((await fetch(link.uri, { method: 'PUT', body: junk })).status).toBe(200)
  expect((await api('POST', `${ARTIFACTS}/directupload/${link.id}/complete`)).status).toBe(202)
  await s.services.artifacts.idle()
  expect(await blobKeys(s)).not.toContain(link.id)
  // The dropped object's link is still signed and unexpired; it is refused before the body is read.
  const again = await fetch(link.uri, { method: 'PUT', body: junk })
  expect(again.status).toBe(404)
  expect(await blobKeys(s)).not.toContain(link.id)
  expect(leftovers(s)).toEqual([])
})
