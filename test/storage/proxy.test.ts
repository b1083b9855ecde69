import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { type StorageServer, serveStorage } from '../../src/server.ts'
import { createStorageProxy, parseRange, type StorageProxy } from '../../src/storage/proxy.ts'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { patternBytes, patternStream, readAll, until } from './bytes.ts'
import { rawRequest } from './http.ts'

const KEY = 'artifacts/0f8fad5b-d9cb-469f-a165-70867728950e'
const SIZE = 1024 * 1024 + 4321
const MAX = 3 * 1024 * 1024

let t: TestApp
let proxy: StorageProxy
let server: StorageServer

beforeAll(async () => {
  t = await createTestApp({ BENDER_MAX_ARTIFACT_SIZE: String(MAX), BENDER_LOG_LEVEL: 'info' })
  proxy = createStorageProxy(t.deps)
  await t.deps.blobs.put(KEY, patternStream(SIZE).stream)
  server = await serveStorage(t.deps, 0)
})
afterAll(async () => {
  await server.stop(true)
  t.close()
})

/** The path and query of a signed link: what a client puts on the request line. */
const target = (url: string) => {
  const u = new URL(url)
  return u.pathname + u.search
}

const call = (url: string, init: RequestInit = {}) =>
  proxy(new Request(new URL(target(url), 'http://localhost:9000').href, init))

function expectMenderError(res: Response, body: any, status: number, message: string) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
  expect(body).toEqual({ error: message, request_id: res.headers.get('x-men-requestid') })
  expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/)
}

const download = () => t.deps.links.signDownload(KEY, { filename: 'release-1.mender' }).url

describe('downloads', () => {
  test('GET answers the whole object with its exact length, type and file name', async () => {
    const res = await call(download(), { headers: { 'x-men-requestid': 'req-1' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(SIZE))
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('content-type')).toBe('application/vnd.mender-artifact')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="release-1.mender"')
    expect(res.headers.get('x-men-requestid')).toBe('req-1')
    expect(Buffer.from(await readAll(res.body!)).equals(Buffer.from(patternBytes(0, SIZE)))).toBe(true)
  })

  test('without a file name in the link the download is named after the key', async () => {
    const res = await call(t.deps.links.signDownload(KEY).url)
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="0f8fad5b-d9cb-469f-a165-70867728950e.mender"',
    )
  })

  const ranges: [string, number, number][] = [
    ['bytes=3000-', 3000, SIZE - 1],
    ['bytes=10-19', 10, 19],
    ['bytes=-500', SIZE - 500, SIZE - 1],
    ['bytes=100-99999999', 100, SIZE - 1],
    ['bytes=0-0', 0, 0],
    ['bytes=-99999999', 0, SIZE - 1],
  ]
  for (const [range, start, end] of ranges) {
    test(`Range: ${range} is 206 with Content-Range`, async () => {
      const res = await call(download(), { headers: { range } })
      expect(res.status).toBe(206)
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${SIZE}`)
      expect(res.headers.get('content-length')).toBe(String(end - start + 1))
      expect(res.headers.get('accept-ranges')).toBe('bytes')
      const bytes = await readAll(res.body!)
      expect(Buffer.from(bytes).equals(Buffer.from(patternBytes(start, end - start + 1)))).toBe(true)
    })
  }

  test('an unsatisfiable range is 416 with the total size', async () => {
    for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 5}-${SIZE + 9}`, 'bytes=-0']) {
      const res = await call(download(), { headers: { range } })
      expectMenderError(res, await res.json(), 416, 'range not satisfiable')
      expect(res.headers.get('content-range')).toBe(`bytes */${SIZE}`)
    }
  })

  test('ranges it does not serve (reversed, several, other units, garbage) get the whole object', async () => {
    for (const range of ['bytes=20-10', 'bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=-']) {
      const res = await call(download(), { headers: { range } })
      expect([range, res.status, res.headers.get('content-length')]).toEqual([range, 200, String(SIZE)])
      await res.arrayBuffer()
    }
  })

  test('HEAD answers the headers of GET without a body', async () => {
    const res = await call(download(), { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(SIZE))
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('content-type')).toBe('application/vnd.mender-artifact')
    expect(res.body).toBeNull()
    const ranged = await call(download(), { method: 'HEAD', headers: { range: 'bytes=3000-' } })
    expect(ranged.status).toBe(206)
    expect(ranged.headers.get('content-range')).toBe(`bytes 3000-${SIZE - 1}/${SIZE}`)
    expect(ranged.headers.get('content-length')).toBe(String(SIZE - 3000))
    const beyond = await call(download(), { method: 'HEAD', headers: { range: `bytes=${SIZE}-` } })
    expect(beyond.status).toBe(416)
  })

  test('a signed link to a missing object is 404', async () => {
    const url = t.deps.links.signDownload('artifacts/7c9e6679-7425-40de-944b-e07fc1f90ae7').url
    for (const method of ['GET', 'HEAD']) {
      const res = await call(url, { method })
      expect(res.status).toBe(404)
    }
    const res = await call(url)
    expectMenderError(res, await res.json(), 404, 'not found')
  })
})

describe('links', () => {
  test('an expired link is 403 with a Mender error body', async () => {
    const url = t.deps.links.signDownload(KEY, { ttlSeconds: 60 }).url
    expect((await call(url, { method: 'HEAD' })).status).toBe(200)
    t.clock.advance(60)
    const res = await call(url)
    expectMenderError(res, await res.json(), 403, 'link expired')
    t.clock.advance(-60)
  })

  test('a link with any signed field changed is 403', async () => {
    const url = new URL(download())
    const variants: [string, (u: URL) => void][] = [
      ['key', (u) => (u.pathname = '/blobs/artifacts/7c9e6679-7425-40de-944b-e07fc1f90ae7')],
      ['expiry', (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 1))],
      ['file name', (u) => u.searchParams.set('filename', 'evil.mender')],
      ['file name removed', (u) => u.searchParams.delete('filename')],
      ['signature', (u) => u.searchParams.set('signature', 'A'.repeat(43))],
      ['no signature', (u) => u.searchParams.delete('signature')],
    ]
    for (const [field, change] of variants) {
      const bad = new URL(url)
      change(bad)
      const res = await call(bad.href)
      const body: any = await res.json()
      expect([field, res.status, body.error]).toEqual([field, 403, 'invalid link signature'])
      expect(res.headers.get('x-men-requestid')).toBe(body.request_id)
    }
  })

  test('a link used with the wrong method is 403; other methods are 405', async () => {
    const put = await call(download(), { method: 'PUT', body: 'x' })
    expect(put.status).toBe(403)
    const upload = t.deps.links.signUpload('uploads/one').url
    for (const method of ['GET', 'HEAD']) expect((await call(upload, { method })).status).toBe(403)
    for (const method of ['DELETE', 'POST', 'PATCH']) {
      const res = await call(download(), { method })
      expectMenderError(res, await res.json(), 405, 'method not allowed')
      expect(res.headers.get('allow')).toBe('GET, HEAD, PUT')
    }
  })

  test('unknown paths are 404 with a Mender error body', async () => {
    for (const path of ['/', '/api/devices/v1/deployments', '/blob/x']) {
      const res = await proxy(new Request(`http://localhost:9000${path}`))
      expectMenderError(res, await res.json(), 404, 'not found')
    }
  })
})

describe('direct uploads', () => {
  test('PUT streams the body into the blob store under the link key, once', async () => {
    const key = 'uploads/7c9e6679-7425-40de-944b-e07fc1f90ae7'
    const url = t.deps.links.signUpload(key).url
    const body = patternStream(2 * 1024 * 1024 + 7).stream
    const res = await call(url, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/vnd.mender-artifact' },
    })
    expect(res.status).toBe(200)
    expect((await t.deps.blobs.stat(key))?.size).toBe(2 * 1024 * 1024 + 7)
    const back = await call(t.deps.links.signDownload(key).url)
    expect(
      Buffer.from(await readAll(back.body!)).equals(Buffer.from(patternBytes(0, 2 * 1024 * 1024 + 7))),
    ).toBe(true)
    const again = await call(url, { method: 'PUT', body: 'replacement' })
    expectMenderError(again, await again.json(), 409, 'the object already exists')
    expect((await t.deps.blobs.stat(key))?.size).toBe(2 * 1024 * 1024 + 7)
  })

  test('one writer per link: a PUT while another is streaming is 409, before its body is read', async () => {
    const key = 'uploads/2b1e0a6c-4f0e-4c55-9d0a-1f3e5c7b9d21'
    const url = t.deps.links.signUpload(key).url
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let pulls = 0
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulls++ === 1) await gate
        controller.enqueue(new Uint8Array(4).fill(1))
        if (pulls === 3) controller.close()
      },
    })
    const first = call(url, { method: 'PUT', body: slow })
    await until(() => pulls >= 2, 'the slow PUT to be streaming')
    const second = await call(url, { method: 'PUT', body: 'the fast one' })
    expectMenderError(second, await second.json(), 409, 'an upload to this link is in progress')
    release()
    expect((await first).status).toBe(200)
    const kept = await call(t.deps.links.signDownload(key).url)
    expect(await kept.bytes()).toEqual(new Uint8Array(12).fill(1))
  })

  test('a browser on another origin may PUT to a link (the console on the API port): CORS preflight and answers', async () => {
    const key = 'uploads/3d2f1c0b-5a4e-4f6d-8c7b-9a0b1c2d3e4f'
    const url = t.deps.links.signUpload(key).url
    const preflight = await call(url, {
      method: 'OPTIONS',
      headers: { origin: 'http://console.example', 'access-control-request-method': 'PUT' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT')
    expect(preflight.headers.get('access-control-allow-headers')).toContain('content-type')
    const put = await call(url, {
      method: 'PUT',
      body: 'bytes',
      headers: { origin: 'http://console.example' },
    })
    expect(put.status).toBe(200)
    expect(put.headers.get('access-control-allow-origin')).toBe('*')
    // Errors are readable too, so the console can show the server's sentence and request id.
    const refused = await call(url, { method: 'PUT', body: 'again' })
    expect(refused.status).toBe(409)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(refused.headers.get('access-control-expose-headers')).toContain('x-men-requestid')
  })

  test('a body over BENDER_MAX_ARTIFACT_SIZE is 413 and stores nothing', async () => {
    const key = 'uploads/too-large'
    const url = t.deps.links.signUpload(key).url
    const declared = await call(url, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-length': String(MAX + 1) },
    })
    expectMenderError(declared, await declared.json(), 413, 'Artifact file too large')
    // Chunked, so only counting the bytes as they pass can catch it.
    const streamed = await call(url, { method: 'PUT', body: patternStream(MAX + 1).stream })
    expectMenderError(streamed, await streamed.json(), 413, 'Artifact file too large')
    expect(await t.deps.blobs.stat(key)).toBeUndefined()
    expect(readdirSync(`${t.deps.config.storageDir}/uploads`).filter((n) => n.includes('too-large'))).toEqual(
      [],
    )
    const exact = await call(url, { method: 'PUT', body: patternStream(MAX).stream })
    expect(exact.status).toBe(200)
  })
})

describe('over real HTTP', () => {
  test('a download is never compressed, even when the client asks for gzip', async () => {
    const res = await rawRequest(
      server.port,
      `GET ${target(download())} HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nUser-Agent: Go-http-client/1.1`,
    )
    expect(res.status).toBe(200)
    expect(res.headers['content-encoding']).toBeUndefined()
    expect(res.headers['transfer-encoding']).toBeUndefined()
    expect(res.headers['content-length']).toBe(String(SIZE))
    expect(res.body.equals(Buffer.from(patternBytes(0, SIZE)))).toBe(true)
  })

  test('a resumed download gets 206 from the offset, as the mender client expects', async () => {
    const res = await rawRequest(
      server.port,
      `GET ${target(download())} HTTP/1.1\r\nHost: localhost\r\nRange: bytes=3000-\r\nAccept-Encoding: gzip`,
    )
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 3000-${SIZE - 1}/${SIZE}`)
    expect(res.headers['content-length']).toBe(String(SIZE - 3000))
    expect(res.body.equals(Buffer.from(patternBytes(3000, SIZE - 3000)))).toBe(true)
  })

  test('HEAD keeps the exact Content-Length on the wire', async () => {
    const res = await rawRequest(server.port, `HEAD ${target(download())} HTTP/1.1\r\nHost: localhost`)
    expect(res.status).toBe(200)
    expect(res.headers['content-length']).toBe(String(SIZE))
    expect(res.body.length).toBe(0)
  })

  test('fetch through the port works end to end, PUT then GET', async () => {
    const key = 'uploads/over-http'
    const put = await fetch(
      new URL(target(t.deps.links.signUpload(key).url), `http://127.0.0.1:${server.port}`),
      {
        method: 'PUT',
        body: patternBytes(0, 100_000),
      },
    )
    expect(put.status).toBe(200)
    const get = await fetch(
      new URL(target(t.deps.links.signDownload(key).url), `http://127.0.0.1:${server.port}`),
    )
    expect((await readAll(get.body!)).length).toBe(100_000)
  })

  test('an upload the client abandons midway leaves no object and no temp file', async () => {
    const key = 'uploads/abandoned'
    const socket = connect(server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(
      `PUT ${target(t.deps.links.signUpload(key).url)} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MAX}\r\n\r\n`,
    )
    socket.write(patternBytes(0, 512 * 1024))
    const dir = `${t.deps.config.storageDir}/uploads`
    const temps = () => readdirSync(dir).filter((name) => name.startsWith('.abandoned.'))
    await until(() => temps().length === 1, 'the upload to start writing')
    socket.destroy()
    await until(() => temps().length === 0, 'the temp file to be removed')
    expect(await t.deps.blobs.stat(key)).toBeUndefined()
    // Seen as the client going away, not as a server failure.
    const interrupted = () => t.logLines.find((line) => line.includes('key=uploads/abandoned'))
    await until(() => interrupted() !== undefined, 'the interruption to be logged')
    expect(interrupted()).toContain('level=info msg="direct upload interrupted by the client"')
  })
})

test('parseRange reads the one-range forms and nothing else', () => {
  expect(parseRange('bytes=5-')).toEqual({ start: 5 })
  expect(parseRange('bytes=5-9')).toEqual({ start: 5, end: 9 })
  expect(parseRange('bytes=-9')).toEqual({ suffix: 9 })
  expect(parseRange(' bytes=0-0 ')).toEqual({ start: 0, end: 0 })
  for (const bad of [
    null,
    '',
    'bytes=',
    'bytes=-',
    'bytes=9-5',
    'bytes=1-2,4-5',
    'bytes=x-',
    `bytes=${'9'.repeat(20)}-`,
  ]) {
    expect(parseRange(bad)).toBeUndefined()
  }
})
