import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { ArtifactError } from '../../src/artifact/errors.ts'
import { readArtifact } from '../../src/artifact/reader.ts'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'
import { buildArtifact, chunked } from '../helpers/artifact-builder.ts'
import { AUTH_REQUESTS, TestDevice } from '../helpers/device.ts'
import { startBender } from '../helpers/server.ts'
import { ARTIFACTS, expectNothingStored } from './helpers.ts'

// Inflating hundreds of MiB takes seconds on a loaded machine.
setDefaultTimeout(120_000)

const MiB = 1024 * 1024

/**
 * A tar holding `payload.bin`, 256 MiB of zeros, compressed with `xz -1` to 39 KB (made with
 * Python's tarfile and lzma modules; the SHA-256 below is that of the 256 MiB of zeros).
 */
const XZ_BOMB = join(import.meta.dir, '../fixtures/zeros-256mib.tar.xz')
const XZ_BOMB_PAYLOAD_SHA256 = 'a6d72ac7690f53be6ae46ba88506bd97302a093f7108472bd9efc3cefda06484'

/** An artifact whose one payload is the xz bomb above. */
async function xzBombArtifact(): Promise<Uint8Array> {
  const content = await Bun.file(XZ_BOMB).bytes()
  return buildArtifact({
    name: 'xz-bomb',
    manifest: (lines) =>
      lines.map((line) => line.replace(/^\w+(?= {2}data\/0000\/)/, XZ_BOMB_PAYLOAD_SHA256)),
    outer: (members) =>
      members.map((member) =>
        member.name.startsWith('data/0000.tar') ? { ...member, name: 'data/0000.tar.xz', content } : member,
      ),
  })
}

/** A zstd payload of 80 MiB of zeros: a few KB compressed. */
const zstdBomb = () =>
  buildArtifact({
    name: 'zstd-bomb',
    compression: 'zstd',
    payloads: [{ type: 'single-file', files: { 'payload.bin': new Uint8Array(80 * MiB) } }],
  })

const form = (bytes: Uint8Array) => {
  const body = new FormData()
  body.append('artifact', new Blob([bytes as Uint8Array<ArrayBuffer>]), 'upload.mender')
  return body
}

describe('the inflated size of a payload is bounded', () => {
  test('the reader refuses a payload inflating past its ratio (beyond the 64 MiB floor)', async () => {
    const bytes = zstdBomb()
    expect(bytes.byteLength).toBeLessThan(MiB)
    const refused = await readArtifact(chunked(bytes, 65536), {
      inflate: { ratio: 1000, maxSize: 1024 * MiB },
    }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(ArtifactError)
    expect((refused as Error).message).toBe(`data/0000.tar.zst inflates to more than ${64 * MiB} bytes`)
    // The same artifact with a ratio that allows it is read in full: the bound is what refused it.
    const meta = await readArtifact(chunked(bytes, 65536), {
      inflate: { ratio: 1_000_000, maxSize: 1024 * MiB },
    })
    expect(meta.name).toBe('zstd-bomb')
  })

  let t: TestApp
  let token: string
  beforeAll(async () => {
    t = await createTestApp()
    token = (await loginAs(t)).token
  })
  afterAll(() => t.close())

  test('an upload whose payload inflates a thousandfold is 400 and nothing is stored', async () => {
    const res = await t.call('POST', ARTIFACTS, { token, raw: form(zstdBomb()) })
    expect(res.status).toBe(400)
    expect(res.json.error).toContain(`data/0000.tar.zst inflates to more than ${64 * MiB} bytes`)
    await expectNothingStored(t, token)
  })

  test('BENDER_MAX_INFLATED_SIZE bounds every payload, whatever its ratio', async () => {
    const small = await createTestApp({ BENDER_MAX_INFLATED_SIZE: String(MiB) })
    try {
      const admin = (await loginAs(small)).token
      const random = crypto.getRandomValues(new Uint8Array(2 * MiB))
      const bytes = buildArtifact({
        name: 'big',
        payloads: [{ type: 'single-file', files: { 'a.bin': random } }],
      })
      const res = await small.call('POST', ARTIFACTS, { token: admin, raw: form(bytes) })
      expect(res.status).toBe(400)
      expect(res.json.error).toContain(`data/0000.tar.gz inflates to more than ${MiB} bytes`)
      await expectNothingStored(small, admin)
    } finally {
      await small.close()
    }
  })
})

test('a device poll is answered while a directly uploaded xz payload is being inflated', async () => {
  // The ratio is raised so that the whole 256 MiB is decoded: seconds of work for the server.
  const server = await startBender({
    env: {
      BENDER_ADMIN_EMAIL: 'admin@example.com',
      BENDER_ADMIN_PASSWORD: 'admin-password',
      BENDER_MAX_INFLATE_RATIO: '100000',
    },
  })
  try {
    const login = await fetch(`${server.url}/api/management/v1/useradm/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa('admin@example.com:admin-password')}` },
    })
    const admin = await login.text()
    const api = (method: string, path: string, body?: string) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body,
      })
    const device = new TestDevice()
    const authRequest = () => {
      const body = device.authRequestBody()
      return fetch(`${server.url}${AUTH_REQUESTS}`, {
        method: 'POST',
        headers: device.authHeaders(body),
        body,
      })
    }
    expect((await authRequest()).status).toBe(401)
    const [listed] = (await (await api('GET', '/api/management/v2/devauth/devices')).json()) as any[]
    const accepted = `/api/management/v2/devauth/devices/${listed.id}/auth/${listed.auth_sets[0].id}/status`
    expect((await api('PUT', accepted, '{"status":"accepted"}')).status).toBe(204)
    const deviceToken = await (await authRequest()).text()

    const link = (await (await api('POST', `${ARTIFACTS}/directupload`)).json()) as Record<string, string>
    const put = await fetch(link.uri!, { method: 'PUT', body: await xzBombArtifact() })
    expect(put.status).toBe(200)
    expect((await api('POST', `${ARTIFACTS}/directupload/${link.id}/complete`)).status).toBe(202)
    // The server now reads the stored upload and inflates its payload: seconds of work.
    await Bun.sleep(200)
    const poll = await fetch(
      `${server.url}/api/devices/v1/deployments/device/deployments/next?device_type=dev-a&artifact_name=none`,
      { headers: { authorization: `Bearer ${deviceToken}` } },
    )
    expect(poll.status).toBe(204)
    // Answered before the artifact was recorded, i.e. while its payload was still being inflated.
    expect((await api('GET', `${ARTIFACTS}/${link.id}`)).status).toBe(404)
    for (;;) {
      const got = await api('GET', `${ARTIFACTS}/${link.id}`)
      if (got.status === 200) break
      await Bun.sleep(200)
    }
  } finally {
    await server.stop()
  }
})
