import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

/** Where the Debian client 3.4 reads the current artifact name until it has installed one (not configurable). */
const ARTIFACT_DIR = '/etc/mender'
/** Where the Debian client 3.4 finds its update modules. */
const MODULES_DIR = '/usr/share/mender/modules/v3'
/** Where the client runs its identity script from (not configurable either). */
const IDENTITY_DIR = '/usr/share/mender/identity'
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
    /**
     * A directory of update modules seen as /usr/share/mender/modules/v3 (where the client looks;
     * its configuration cannot move it), bound over it in the private mount namespace.
     */
    modulesDir?: string
    /** More mender.conf settings. */
    config?: Record<string, unknown>
    /** More environment for the client (and so its update modules). */
    env?: Record<string, string>
    /** Its own identity (key=value lines of its identity script): several clients, several devices. */
    identity?: Record<string, string>
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
    let mounts = `mount --bind "$0" ${ARTIFACT_DIR}`
    if (options.identity) {
      // Its own identity script over the machine's: several clients on one machine are several devices.
      const identity = join(dir, 'identity')
      mkdirSync(identity)
      const lines = Object.entries(options.identity).map(([key, value]) => `echo '${key}=${value}'`)
      writeFileSync(join(identity, 'mender-device-identity'), `#!/bin/sh\n${lines.join('\n')}\n`, {
        mode: 0o755,
      })
      mounts += ` && mount --bind "${identity}" ${IDENTITY_DIR}`
    }
    if (options.modulesDir !== undefined) mounts += ` && mount --bind "${options.modulesDir}" ${MODULES_DIR}`
    prefix = ['unshare', '--mount', 'sh', '-c', `${mounts} && exec "$@"`, etc]
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
      // Collects the daemon's log while it runs; nothing waits for it, the log is read when needed.
      void (async () => {
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

/**
 * A single-file artifact for `deviceType` installing `content` as `<dest>/app.conf`, made in `dir`
 * by the client's own example generator; `stateScripts` (state name -> shell) go into the artifact
 * for the client to run. Returns the artifact's path.
 */
export function singleFileArtifact(
  dir: string,
  deviceType: string,
  name: string,
  dest: string,
  content: Uint8Array,
  stateScripts: Record<string, string> = {},
): string {
  const file = join(dir, 'app.conf')
  writeFileSync(file, content)
  const out = join(dir, `${name}.mender`)
  const scripts = Object.entries(stateScripts).flatMap(([state, script]) => {
    const path = join(dir, state)
    writeFileSync(path, `#!/bin/sh\n${script}\n`, { mode: 0o755 })
    return ['-s', path]
  })
  const generator = '/usr/share/doc/mender-client/examples/single-file-artifact-gen'
  const command = ['sh', generator, '-n', name, '-t', deviceType, '-d', dest, '-o', out, file]
  const result = Bun.spawnSync(scripts.length > 0 ? [...command, '--', ...scripts] : command, {
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 60_000,
  })
  if (result.exitCode !== 0) throw new Error(`${command.join(' ')}: ${result.stderr.toString()}`)
  return out
}
