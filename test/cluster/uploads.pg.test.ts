import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type AddressInfo, connect, createServer } from 'node:net'
import { UPLOAD_CLAIM_MS, UPLOAD_CLAIM_RENEW_MS } from '../../src/services/artifacts/claims.ts'
import { buildArtifact } from '../helpers/artifact-builder.ts'
import { type Instances, startInstances } from '../helpers/instances.ts'
import { waitFor } from '../helpers/server.ts'

// Uploads racing across two bender processes on one PostgreSQL database and one S3 bucket: one
// artifact id written through both at once, and a direct upload being checked by one instance
// while the other starts.

const EMAIL = 'admin@example.com'
const PASSWORD = 'correct-horse-1'
const ARTIFACTS = '/api/management/v1/deployments/artifacts'
let cluster: Instances
let a: Instances['nodes'][number]
let b: Instances['nodes'][number]
let admin: string

/**
 * Instance A's way to the bucket: a TCP proxy that passes every byte on, but holds a request to
 * GET the object `key` (set with `hold`) until `release`, so that A's check of that object is
 * under way for as long as the test wants.
 */
function startBucketGate() {
  let upstream = { host: '127.0.0.1', port: 0 }
  let held: { key: string; arrived: () => void; released: Promise<void>; release: () => void } | undefined
  const server = createServer((client) => {
    const toBucket = connect(upstream.port, upstream.host)
    let sending = Promise.resolve()
    client.on('data', (chunk) => {
      sending = sending.then(async () => {
        const gate = held
        if (gate && new RegExp(`^GET /[^ ]*/${gate.key}[? ]`, 'm').test(chunk.toString('latin1'))) {
          gate.arrived()
          await gate.released
        }
        toBucket.write(chunk)
      })
    })
    toBucket.pipe(client)
    const close = () => {
      client.destroy()
      toBucket.destroy()
    }
    client.on('close', close).on('error', close)
    toBucket.on('close', close).on('error', close)
  })
  server.listen(0, '127.0.0.1')
  return {
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setUpstream(url: string) {
      const { hostname, port } = new URL(url)
      upstream = { host: hostname, port: Number(port) }
    },
    /** Holds the next GETs of `key`; resolves once the first arrives. */
    hold(key: string): Promise<void> {
      let arrived!: () => void
      let release!: () => void
      const came = new Promise<void>((resolve) => {
        arrived = resolve
      })
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      held = { key, arrived, released, release }
      return came
    },
    release() {
      held?.release()
      held = undefined
    },
    stop: () => server.close(),
  }
}

const gate = startBucketGate()

async function login(node: typeof a): Promise<string> {
  const res = await node.call('POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${btoa(`${EMAIL}:${PASSWORD}`)}` },
  })
  expect(res.status).toBe(200)
  return res.text
}

/** An artifact of about `size` random bytes (so that two uploads of it overlap in time). */
function randomArtifact(name: string, size: number): Uint8Array {
  const payload = crypto.getRandomValues(new Uint8Array(size))
  return buildArtifact({
    name,
    deviceTypes: ['dev-a'],
    compression: 'none',
    payloads: [{ type: 'single-file', files: { 'payload.bin': payload } }],
  })
}

function postArtifact(node: typeof a, bytes: Uint8Array, artifactId: string): Promise<Response> {
  const form = new FormData()
  form.set('artifact_id', artifactId)
  form.set('size', String(bytes.length))
  form.set('artifact', new Blob([bytes]), 'upload.mender')
  return fetch(`${node.url}${ARTIFACTS}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}` },
    body: form,
  })
}

/** The artifact's file, downloaded through the balancers as a device would (or through `node` alone). */
async function download(id: string, node?: typeof a): Promise<Uint8Array> {
  const link = await fetch(`${node?.url ?? cluster.url}${ARTIFACTS}/${id}/download`, {
    headers: { authorization: `Bearer ${admin}` },
  })
  expect(link.status).toBe(200)
  const uri = new URL(((await link.json()) as { uri: string }).uri)
  const file = await fetch(node ? `${node.storageUrl}${uri.pathname}${uri.search}` : uri)
  expect(file.status).toBe(200)
  return new Uint8Array(await file.arrayBuffer())
}

beforeAll(async () => {
  cluster = await startInstances(
    2,
    { BENDER_ADMIN_EMAIL: EMAIL, BENDER_ADMIN_PASSWORD: PASSWORD },
    (i, env): Record<string, string> => {
      if (i !== 0) return {}
      gate.setUpstream(env.BENDER_S3_ENDPOINT!)
      return { BENDER_S3_ENDPOINT: gate.url() }
    },
  )
  ;[a, b] = cluster.nodes as [typeof a, typeof b]
  admin = await login(a)
}, 120_000)
afterAll(async () => {
  gate.release()
  await cluster.stop()
  gate.stop()
})

describe('uploads across two instances', () => {
  test('one artifact_id uploaded through A and B at once: one 201, one 409, and the winner downloads byte for byte', async () => {
    for (let round = 0; round < 3; round++) {
      const id = crypto.randomUUID()
      const bytes = [
        randomArtifact(`same-id-${round}-a`, 1 << 20),
        randomArtifact(`same-id-${round}-b`, 1 << 20),
      ]
      const responses = await Promise.all([postArtifact(a, bytes[0]!, id), postArtifact(b, bytes[1]!, id)])
      const statuses = responses.map((res) => res.status)
      expect(statuses.slice().sort()).toEqual([201, 409])
      const winner = statuses.indexOf(201)
      const refused = (await responses[1 - winner]!.json()) as Record<string, string>
      expect(refused.error).toBe('an artifact with this ID already exists')
      expect(refused.request_id).toBeString()
      const got = await fetch(`${cluster.url}${ARTIFACTS}/${id}`, {
        headers: { authorization: `Bearer ${admin}` },
      })
      expect(((await got.json()) as { name: string }).name).toBe(
        `same-id-${round}-${winner === 0 ? 'a' : 'b'}`,
      )
      expect(Buffer.from(await download(id)).equals(Buffer.from(bytes[winner]!))).toBe(true)
    }
  }, 60_000)

  test('a direct upload being checked by A while B starts is checked once, by A: the artifact and its object are intact', async () => {
    await b.stop()
    const bytes = randomArtifact('direct-while-starting', 64 * 1024)
    const link = await a.call('POST', `${ARTIFACTS}/directupload`, { token: admin })
    expect(link.status).toBe(200)
    const { id, uri } = link.json as { id: string; uri: string }
    // Straight to A's storage proxy: B is down, and the storage balancer would alternate.
    const signed = new URL(uri)
    const put = await fetch(`${a.storageUrl}${signed.pathname}${signed.search}`, {
      method: 'PUT',
      body: bytes,
    })
    expect(put.status).toBe(200)

    const checking = gate.hold(id)
    const complete = await a.call('POST', `${ARTIFACTS}/directupload/${id}/complete`, {
      token: admin,
      body: { size: bytes.length },
    })
    expect(complete.status).toBe(202)
    // A is reading the object to check it, and stays there until released.
    await checking
    await cluster.restart(1)
    b = cluster.nodes[1]!
    // B has done its start-up; a check of its own would be over in this time.
    await Bun.sleep(1500)
    gate.release()

    const settled = (line: string) =>
      line.includes(id) && (line.includes('direct upload recorded') || line.includes('direct upload dropped'))
    await waitFor('A to finish its check', async () => a.output().split('\n').some(settled) || undefined)
    const lines = `${a.output()}\n${b.output()}`.split('\n').filter(settled)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('direct upload recorded')
    expect(b.output()).not.toContain(id)
    const got = await fetch(`${cluster.url}${ARTIFACTS}/${id}`, {
      headers: { authorization: `Bearer ${admin}` },
    })
    expect(got.status).toBe(200)
    expect(Buffer.from(await download(id)).equals(Buffer.from(bytes))).toBe(true)
  }, 60_000)

  test("a direct upload being checked by A when A is killed is checked by B once A's claim has run out", async () => {
    const bytes = randomArtifact('direct-killed', 64 * 1024)
    const link = await a.call('POST', `${ARTIFACTS}/directupload`, { token: admin })
    const { id, uri } = link.json as { id: string; uri: string }
    const signed = new URL(uri)
    const put = await fetch(`${a.storageUrl}${signed.pathname}${signed.search}`, {
      method: 'PUT',
      body: bytes,
    })
    expect(put.status).toBe(200)
    const checking = gate.hold(id)
    const complete = await a.call('POST', `${ARTIFACTS}/directupload/${id}/complete`, {
      token: admin,
      body: { size: bytes.length },
    })
    expect(complete.status).toBe(202)
    await checking
    a.proc.kill('SIGKILL')
    await a.proc.exited
    const killed = Date.now()
    gate.release()
    const bound = UPLOAD_CLAIM_MS + UPLOAD_CLAIM_RENEW_MS + 5000
    await waitFor(
      'B to record the upload',
      async () => (await b.call('GET', `${ARTIFACTS}/${id}`, { token: admin })).status === 200 || undefined,
      bound,
    )
    const tookOver = Date.now() - killed
    console.log(`direct upload taken over ${tookOver} ms after its checker was killed`)
    expect(tookOver).toBeLessThan(bound)
    expect(
      b
        .output()
        .split('\n')
        .filter((line) => line.includes(id) && line.includes('direct upload recorded')),
    ).toHaveLength(1)
    expect(Buffer.from(await download(id, b)).equals(Buffer.from(bytes))).toBe(true)
  }, 90_000)
})
