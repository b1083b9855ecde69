import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

/** Where the Debian client 3.4 reads the current artifact name until it has installed one (not configurable). */
const ARTIFACT_DIR = '/etc/mender'
const COMMAND_TIMEOUT_MS = 60_000
const DAEMON_TIMEOUT_MS = 5 * 60_000

/** The installed `mender` client; the e2e tests fail, not skip, without it. */
export function menderBinary(): string {
  const binary = Bun.which('mender')
  if (!binary) throw new Error('the mender client is not installed (Debian package mender-client)')
  return binary
}

/**
 * A mender client with its own configuration and data dir (its key, its token) in a temp dir. With
 * `artifactName`, it runs in a private mount namespace whose /etc/mender holds its own artifact_info
 * (what it reports until it installs something), so the machine's /etc is never touched.
 */
export function createMenderClient(
  serverUrl: string,
  deviceType = 'test-device',
  options: {
    artifactName?: string
    /** Settings added to (or replacing) the test configuration. */
    config?: Record<string, unknown>
    /** Environment of its processes (e.g. the D-Bus address its API is served on). */
    env?: Record<string, string>
  } = {},
) {
  const binary = menderBinary()
  const dir = mkdtempSync(join(tmpdir(), 'bender-mender-'))
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir)
  const configFile = join(dir, 'mender.conf')
  writeFileSync(join(dir, 'device_type'), `device_type=${deviceType}\n`)
  writeFileSync(
    configFile,
    JSON.stringify({
      ServerURL: serverUrl,
      DeviceTypeFile: join(dir, 'device_type'),
      UpdatePollIntervalSeconds: 2,
      InventoryPollIntervalSeconds: 2,
      RetryPollIntervalSeconds: 2,
      ...options.config,
    }),
  )
  const menderArgs = [binary, '-c', configFile, '-d', dataDir, '--no-syslog']
  let prefix: string[] = []
  if (options.artifactName !== undefined) {
    const etc = join(dir, 'etc')
    mkdirSync(etc)
    writeFileSync(join(etc, 'artifact_info'), `artifact_name=${options.artifactName}\n`)
    // The bind mount needs the mount point; it exists once any client test ran, and is harmless empty.
    mkdirSync(ARTIFACT_DIR, { recursive: true })
    prefix = ['unshare', '--mount', 'sh', '-c', `mount --bind "$0" ${ARTIFACT_DIR} && exec "$@"`, etc]
  }
  const args = (command: string[]) => [...prefix, ...menderArgs, ...command]
  let daemon: Subprocess<'ignore', 'ignore', 'pipe'> | undefined
  let daemonLog = ''

  return {
    dir,
    /** Runs one command to completion (bounded), returning its exit code and output. */
    async run(...command: string[]) {
      const child = Bun.spawn(args(command), {
        stdout: 'pipe',
        stderr: 'pipe',
        timeout: COMMAND_TIMEOUT_MS,
        env: { ...process.env, ...options.env },
      })
      const [stdout, stderr, exitCode] = await Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
        child.exited,
      ])
      return { exitCode, output: stdout + stderr }
    },
    /** Starts the daemon: it authenticates, sends its inventory and polls for updates until stopped. */
    startDaemon() {
      daemon = Bun.spawn(args(['daemon']), {
        stdout: 'ignore',
        stderr: 'pipe',
        timeout: DAEMON_TIMEOUT_MS,
        env: { ...process.env, ...options.env },
      })
      const reader = daemon.stderr.getReader()
      const decoder = new TextDecoder()
      ;(async () => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          daemonLog += decoder.decode(value, { stream: true })
        }
      })()
    },
    /** The daemon's process id (the mount-namespace wrapper execs the client, keeping its pid). */
    daemonPid: () => daemon?.pid,
    /** What the daemon has logged so far. */
    daemonLog: () => daemonLog,
    async close() {
      if (daemon) {
        daemon.kill()
        await daemon.exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
