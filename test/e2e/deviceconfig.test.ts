import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { loginAs } from '../helpers/app.ts'
import { createMenderClient } from '../helpers/mender.ts'
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts'

/**
 * A configuration deployed to the Debian mender client 3.4 in daemon mode. The device runs an
 * update module of this test's own named `mender-configure`, doing what Mender's module and its
 * inventory script do between them: it keeps the meta-data it gets (the configuration), and
 * reports it with `PUT /api/devices/v1/deviceconfig/configuration`, using the token the client
 * hands out over D-Bus (a private bus here, so the machine's own is never touched).
 */

const STEP_MS = 90_000
const DEVICE_TYPE = 'e2e-configure'

let server: TestServer
let admin: string
let work: string
let bus: Subprocess<'ignore', 'pipe', 'pipe'>
let client: ReturnType<typeof createMenderClient>
let deviceId: string

const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.text()
  return { status: response.status, json: text ? JSON.parse(text) : undefined }
}

/** The module: records the meta-data it installs and reports it the way mender-configure does. */
const MODULE = `#!/bin/sh
set -e
STATE="$1"
FILES="$2"
case "$STATE" in
  SupportsRollback) echo No ;;
  ArtifactInstall)
    cp "$FILES/header/meta-data" "$RECORD_DIR/installed.json"
    REPLY=$(dbus-send --system --print-reply --dest=io.mender.AuthenticationManager \\
      /io/mender/AuthenticationManager io.mender.Authentication1.GetJwtToken)
    VALUES=$(echo "$REPLY" | sed -ne 's/^ *string "\\(.*\\)" *$/\\1/p')
    TOKEN=$(echo "$VALUES" | sed -ne 1p)
    SERVER=$(echo "$VALUES" | sed -ne 2p)
    curl -sSf -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d "@$FILES/header/meta-data" "$SERVER/api/devices/v1/deviceconfig/configuration"
    echo "$STATE" >> "$RECORD_DIR/states"
    ;;
  *) echo "$STATE" >> "$RECORD_DIR/states" ;;
esac
`

/** A bus of our own, where the client offers its token as it would on the system bus. */
async function startBus(dir: string): Promise<string> {
  const config = join(dir, 'bus.conf')
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${join(dir, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  )
  bus = Bun.spawn(['dbus-daemon', '--nofork', `--config-file=${config}`, '--print-address=1'], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const reader = bus.stdout.getReader()
  const { value } = await reader.read()
  reader.releaseLock()
  const address = new TextDecoder().decode(value).trim()
  if (!address) throw new Error('dbus-daemon printed no address')
  return address
}

beforeAll(async () => {
  for (const tool of ['dbus-daemon', 'dbus-send', 'curl'])
    if (!Bun.which(tool)) throw new Error(`${tool} is not installed`)
  work = mkdtempSync(join(tmpdir(), 'bender-e2e-configure-'))
  const modules = join(work, 'modules')
  const records = join(work, 'records')
  mkdirSync(join(modules, 'v3'), { recursive: true })
  mkdirSync(records)
  writeFileSync(join(modules, 'v3', 'mender-configure'), MODULE, { mode: 0o755 })
  const address = await startBus(work)
  server = await startTestServer()
  admin = (await loginAs(server)).token
  client = createMenderClient(server.url, DEVICE_TYPE, {
    artifactName: 'factory-1',
    modulesDir: join(modules, 'v3'),
    config: { DBus: { Enabled: true } },
    env: { DBUS_SYSTEM_BUS_ADDRESS: address, RECORD_DIR: records },
  })
  client.startDaemon()
  const pending = await waitFor(
    'the device to ask for authorization',
    async () => (await api('GET', '/api/management/v2/devauth/devices')).json?.[0],
    STEP_MS,
  )
  deviceId = pending.id
  const accepted = await api(
    'PUT',
    `/api/management/v2/devauth/devices/${deviceId}/auth/${pending.auth_sets[0].id}/status`,
    { status: 'accepted' },
  )
  expect(accepted.status).toBe(204)
}, 2 * STEP_MS)

afterAll(async () => {
  await client?.close()
  bus?.kill()
  await server?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

test(
  'the device installs a deployed configuration with its mender-configure module and reports it',
  async () => {
    const configuration = { timezone: 'Europe/Oslo', 'ntp.server': 'pool.ntp.org' }
    await waitFor(
      'the device to be provisioned in deviceconfig',
      async () =>
        (await api('GET', `/api/management/v1/deviceconfig/configurations/device/${deviceId}`)).status === 200
          ? true
          : undefined,
      STEP_MS,
    )
    const set = await api(
      'PUT',
      `/api/management/v1/deviceconfig/configurations/device/${deviceId}`,
      configuration,
    )
    expect(set.status).toBe(204)
    const deploy = await api(
      'POST',
      `/api/management/v1/deviceconfig/configurations/device/${deviceId}/deploy`,
      {
        retries: 0,
      },
    )
    expect(deploy.status).toBe(200)
    const id = deploy.json.deployment_id

    const done = await waitFor(
      'the configuration deployment to finish',
      async () => {
        const d = (await api('GET', `/api/management/v1/deployments/deployments/${id}`)).json
        return d?.status === 'finished' ? d : undefined
      },
      STEP_MS,
    )
    expect(done).toMatchObject({ type: 'configuration', artifact_name: `configuration-${id}` })
    expect(done.statistics.status).toMatchObject({ success: 1, failure: 0 })
    expect(JSON.parse(readFileSync(join(work, 'records', 'installed.json'), 'utf8'))).toEqual(configuration)
    const states = readFileSync(join(work, 'records', 'states'), 'utf8').split('\n')
    expect(states).toContain('ArtifactInstall')
    expect(states).toContain('ArtifactCommit')

    const reported = await api('GET', `/api/management/v1/deviceconfig/configurations/device/${deviceId}`)
    expect(reported.json).toMatchObject({
      configured: configuration,
      reported: configuration,
      deployment_id: id,
    })
    expect(typeof reported.json.reported_ts).toBe('string')
  },
  2 * STEP_MS,
)
