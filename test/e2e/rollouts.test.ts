import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loginAs } from '../helpers/app.ts'
import { createMenderClient } from '../helpers/mender.ts'
import { run, startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

/**
 * Phased rollouts with real Debian mender clients (3.4, daemon mode), each with its own state dir,
 * key and identity: a failing artifact stopped by the failure gate after its first phase, a good
 * one rolled through both phases in order, and a dynamic deployment reaching a device accepted
 * while it is active.
 */

const DEVICE_TYPE = 'e2e-rollout'
const FACTORY = 'factory-1'
const STEP_MS = 90_000
const MGMT = '/api/management/v1/deployments/deployments'

type Client = ReturnType<typeof createMenderClient>

let server: TestServer
let admin: string
let work: string
const clients: Client[] = []
const deviceIds: string[] = []

const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined }
}

function artifact(name: string, dest: string): string {
  const file = join(work, `${name}.conf`)
  writeFileSync(file, `${name}\n`)
  const out = join(work, `${name}.mender`)
  const generator = '/usr/share/doc/mender-client/examples/single-file-artifact-gen'
  const made = Bun.spawnSync(['sh', generator, '-n', name, '-t', DEVICE_TYPE, '-d', dest, '-o', out, file], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  if (made.exitCode !== 0) throw new Error(made.stderr.toString())
  return out
}

async function upload(path: string): Promise<void> {
  const cli = await run(
    ['mender-cli', '--server', server.url, 'artifacts', 'upload', '--no-progress', path],
    {
      env: { HOME: work },
    },
  )
  expect(cli.code).toBe(0)
}

/** Starts a client with its own identity, accepts it, and waits for its first inventory. */
async function addDevice(role: string): Promise<string> {
  const mac = `02:00:00:00:00:${String(clients.length + 10).padStart(2, '0')}`
  const client = createMenderClient(server.url, DEVICE_TYPE, {
    artifactName: FACTORY,
    identity: { mac, role },
  })
  clients.push(client)
  client.startDaemon()
  const pending = await waitFor(
    `device ${mac} to ask for authorization`,
    async () =>
      ((await api('GET', '/api/management/v2/devauth/devices?status=pending')).json as any[])?.find(
        (d) => d.identity_data.mac === mac,
      ),
    STEP_MS,
  )
  const accepted = await api(
    'PUT',
    `/api/management/v2/devauth/devices/${pending.id}/auth/${pending.auth_sets[0].id}/status`,
    { status: 'accepted' },
  )
  expect(accepted.status).toBe(204)
  return pending.id
}

const deployment = async (id: string) => (await api('GET', `${MGMT}/${id}`)).json
const devicesOf = async (id: string) => (await api('GET', `${MGMT}/${id}/devices/list`)).json as any[]
/** A time on the server's clock (the test's: it moves only when the test moves it). */
const inSeconds = (s: number) => new Date(server.clock.now().getTime() + s * 1000).toISOString()

beforeAll(async () => {
  for (const tool of ['mender-artifact', 'mender-cli', 'unshare']) {
    if (!Bun.which(tool)) throw new Error(`${tool} is not installed`)
  }
  work = mkdtempSync(join(tmpdir(), 'bender-e2e-rollouts-'))
  server = await startTestServer()
  admin = (await loginAs(server)).token
  const login = await run(
    [
      'mender-cli',
      '--server',
      server.url,
      'login',
      '--username',
      'admin@example.com',
      '--password',
      'correct-horse-1',
    ],
    { env: { HOME: work } },
  )
  expect(login.code).toBe(0)
  for (let i = 0; i < 3; i++) deviceIds.push(await addDevice('fleet'))
}, 4 * STEP_MS)

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()))
  await server?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('phased rollouts with three real mender clients', () => {
  test(
    'a failing artifact: the failure gate pauses after the first phase’s device fails; the other two never download it',
    async () => {
      await upload(artifact('broken-1', '/proc/bender-e2e/nowhere'))
      const made = await api('POST', MGMT, {
        name: 'broken',
        artifact_name: 'broken-1',
        devices: deviceIds,
        phases: [{ batch_size_devices: 1 }, { start_ts: inSeconds(15) }],
        policy: { failure_gate: { max_failures: 1 } },
      })
      expect(made.status).toBe(201)
      const id = made.headers.get('location')!.split('/').pop()!
      const paused = await waitFor(
        'the failure gate to pause it',
        async () => {
          const d = await deployment(id)
          return d.paused ? d : undefined
        },
        STEP_MS,
      )
      expect(paused.resume_needs_override).toBe(true)
      expect(paused.statistics.status.failure).toBe(1)
      // Past the second phase's start (the rollout timer looks every second): still paused, still
      // only the first device ever asked.
      server.clock.advance(20)
      await Bun.sleep(10_000)
      const later = await deployment(id)
      expect(later.paused).toBe(true)
      expect(later.phases.map((p: any) => p.device_count)).toEqual([1, 0])
      expect(await devicesOf(id)).toHaveLength(1)
      expect((await api('PUT', `${MGMT}/${id}/status`, { status: 'aborted' })).status).toBe(204)
    },
    3 * STEP_MS,
  )

  test(
    'a good artifact rolls through both phases in order',
    async () => {
      // Each client's /etc/mender is its own (a private mount): installing devices never share a
      // destination, whose `.tmp` file two concurrent installs of the single-file module would race on.
      await upload(artifact('good-1', '/etc/mender/good'))
      const made = await api('POST', MGMT, {
        name: 'good',
        artifact_name: 'good-1',
        devices: deviceIds,
        phases: [{ batch_size_devices: 1 }, { start_ts: inSeconds(10) }],
        policy: { success_gate: { percent: 100 }, failure_gate: { max_failures: 1 } },
      })
      expect(made.status).toBe(201)
      const id = made.headers.get('location')!.split('/').pop()!
      const first = await waitFor(
        'the first phase to succeed',
        async () => {
          const d = await deployment(id)
          return d.statistics.status.success === 1 ? d : undefined
        },
        2 * STEP_MS,
      )
      expect(first.phases.map((p: any) => p.device_count)).toEqual([1, 0])
      server.clock.advance(11)
      const done = await waitFor(
        'the deployment to finish',
        async () => {
          const d = await deployment(id)
          return d.status === 'finished' ? d : undefined
        },
        3 * STEP_MS,
      )
      if (done.statistics.status.failure > 0) {
        // What the failed device said, so a failure under load can be told from a bender fault.
        for (const device of (await devicesOf(id)).filter((d) => d.status === 'failure')) {
          const log = await fetch(`${server.url}${MGMT}/${id}/devices/${device.id}/log`, {
            headers: { authorization: `Bearer ${admin}` },
          })
          console.error(`device ${device.id} failed the good rollout; its log:\n${await log.text()}`)
        }
      }
      expect(done.statistics.status).toMatchObject({ success: 3, failure: 0 })
      expect(done.rollout_log.map((e: any) => [e.kind, e.phase])).toEqual([
        ['phase-opened', 0],
        ['phase-opened', 1],
      ])
      const devices = await devicesOf(id)
      const [phase0, phase1] = done.phases
      const firstDevice = devices.find((d) => d.phase_id === phase0.id)
      for (const device of devices.filter((d) => d.phase_id === phase1.id)) {
        expect(Date.parse(device.started)).toBeGreaterThanOrEqual(Date.parse(firstDevice.finished))
      }
    },
    4 * STEP_MS,
  )

  test(
    'a fourth device accepted while a dynamic deployment is active receives it',
    async () => {
      const filter = await api('POST', '/api/management/v2/inventory/filters', {
        name: 'late devices',
        terms: [{ scope: 'identity', attribute: 'role', type: '$eq', value: 'late' }],
      })
      expect(filter.status).toBe(201)
      const filterId = filter.headers.get('location')!.split('/').pop()!
      await upload(artifact('late-1', '/etc/mender/late'))
      const made = await api('POST', '/api/management/v2/deployments/deployments', {
        name: 'for late devices',
        artifact_name: 'late-1',
        filter_id: filterId,
      })
      expect(made.status).toBe(201)
      const id = made.headers.get('location')!.split('/').pop()!
      expect((await deployment(id)).initial_device_count).toBe(0)
      const late = await addDevice('late')
      const device = await waitFor(
        'the fourth device to install it',
        async () => (await devicesOf(id)).find((d) => d.id === late && d.status === 'success'),
        2 * STEP_MS,
      )
      expect(device.attempts).toBe(1)
      expect(await devicesOf(id)).toHaveLength(1)
    },
    4 * STEP_MS,
  )
})
