import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { createMenderClient } from './mender.ts'
import { waitFor } from './server.ts'

const RUN_TIMEOUT_MS = 5 * 60_000

/** Reads a child's stderr into a growing log. */
function collect(stream: ReadableStream<Uint8Array>): () => string {
  let text = ''
  const decoder = new TextDecoder()
  void (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true })
  })()
  return () => text
}

/**
 * A private D-Bus daemon for one test device: the mender client serves its API on it and
 * mender-connect asks it for the device's token. Both reach it as their "system" bus through
 * DBUS_SYSTEM_BUS_ADDRESS, so the machine's own bus is never used. The session configuration lets
 * any name be owned, which the system bus's policy would refuse without installed policy files.
 */
export async function startPrivateBus() {
  const dir = mkdtempSync(join(tmpdir(), 'bender-dbus-'))
  const socket = join(dir, 'bus')
  const proc = Bun.spawn(
    ['dbus-daemon', '--session', '--nofork', '--nopidfile', `--address=unix:path=${socket}`],
    {
      stdout: 'ignore',
      stderr: 'ignore',
      timeout: RUN_TIMEOUT_MS,
    },
  )
  const deadline = Date.now() + 10_000
  while (!existsSync(socket)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('dbus-daemon did not start')
    await Bun.sleep(20)
  }
  return {
    address: `unix:path=${socket}`,
    async close() {
      proc.kill()
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Debian's mender-connect with its own configuration, on the given bus. It runs `mender
 * check-update` (and `send-inventory`) when the server asks, and the client finds its daemon by
 * asking systemd for the `mender-client` service's main pid; a test device has no systemd, so a
 * `systemctl` on mender-connect's PATH answers that one question with `daemonPid`.
 */
export function startMenderConnect(
  busAddress: string,
  daemonPid: () => number | undefined,
  settings: Record<string, unknown> = {},
) {
  const binary = Bun.which('mender-connect')
  if (!binary) throw new Error('mender-connect is not installed (Debian package mender-connect)')
  const dir = mkdtempSync(join(tmpdir(), 'bender-connect-'))
  const config = join(dir, 'mender-connect.conf')
  // bash: mender-connect starts the shell with --login, which dash refuses.
  writeFileSync(config, JSON.stringify({ User: 'nobody', ShellCommand: '/bin/bash', ...settings }))
  const pidFile = join(dir, 'daemon.pid')
  writeFileSync(pidFile, String(daemonPid() ?? 0))
  writeFileSync(join(dir, 'systemctl'), `#!/bin/sh\necho "MainPID=$(cat '${pidFile}')"\n`, { mode: 0o755 })
  let proc: Subprocess<'ignore', 'ignore', 'pipe'> | undefined = Bun.spawn(
    [binary, '--config', config, '--fallback-config', join(dir, 'none.conf'), '--debug', 'daemon'],
    {
      stdout: 'ignore',
      stderr: 'pipe',
      timeout: RUN_TIMEOUT_MS,
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress, PATH: `${dir}:${process.env.PATH}` },
    },
  )
  const log = collect(proc.stderr)
  return {
    log,
    /** Stops mender-connect (the device goes offline). */
    async stop() {
      if (!proc) return
      proc.kill()
      await proc.exited
      proc = undefined
    },
    async close() {
      await this.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A troubleshooting-ready test device: the Debian mender client (bootstrapped, accepted through the
 * management API with `admin`, then in daemon mode with its D-Bus API on a private bus) and
 * mender-connect beside it, returned once bender shows the device connected. `onAccepted` runs
 * after acceptance and before the daemon starts.
 */
export async function startConnectedDevice(
  serverUrl: string,
  admin: string,
  options: { onAccepted?: (deviceId: string) => Promise<void> } = {},
) {
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${serverUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    return { status: res.status, json: text ? JSON.parse(text) : undefined }
  }
  const bus = await startPrivateBus()
  const client = createMenderClient(serverUrl, 'test-device', {
    artifactName: 'connect-base',
    // A long poll interval: an update check seen later was asked for.
    config: { DBus: { Enabled: true }, UpdatePollIntervalSeconds: 1800, InventoryPollIntervalSeconds: 1800 },
    env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address },
  })
  const bootstrap = await client.run('bootstrap')
  if (!bootstrap.output.includes('unauthorized')) throw new Error(`bootstrap: ${bootstrap.output}`)
  const pending = (await api('GET', '/api/management/v2/devauth/devices')).json[0]
  const deviceId: string = pending.id
  await api('PUT', `/api/management/v2/devauth/devices/${deviceId}/auth/${pending.auth_sets[0].id}/status`, {
    status: 'accepted',
  })
  await options.onAccepted?.(deviceId)
  client.startDaemon()
  const connect = startMenderConnect(bus.address, client.daemonPid)
  await waitFor(
    'mender-connect to connect',
    async () =>
      (await api('GET', `/api/management/v1/deviceconnect/devices/${deviceId}`)).json?.status === 'connected'
        ? true
        : undefined,
    90_000,
  )
  return {
    bus,
    client,
    connect,
    deviceId,
    async close() {
      await connect.close()
      await client.close()
      await bus.close()
    },
  }
}
