import { join, resolve } from 'node:path'

/** A port free on loopback right now (the benches start several servers side by side). */
export async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  await probe.stop(true)
  return port
}

/** Waits until bender answers its liveness probe; fails if it exits first or takes over two minutes. */
export async function waitForServer(url: string, proc: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error('bender exited early')
    try {
      if ((await fetch(`${url}/api/internal/v1/useradm/alive`)).status === 204) return
    } catch {}
    if (Date.now() > deadline) throw new Error('bender did not start')
    await Bun.sleep(100)
  }
}

/**
 * Starts `bender serve` from checkout `root` as its own process on free loopback ports, with `env`
 * (data dir, keys, admin) on top of this process's; with `profileDir`, bender writes a CPU profile
 * and its markdown summary there when it stops. Resolves once it answers.
 */
export async function startBender(root: string, env: Record<string, string>, profileDir?: string) {
  const apiPort = await freePort()
  const storagePort = await freePort()
  const base = `http://127.0.0.1:${apiPort}`
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${resolve(profileDir)}`] : []
  const server = Bun.spawn([process.execPath, ...profile, 'run', join(root, 'src/main.ts'), 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      BENDER_API_PORT: String(apiPort),
      BENDER_STORAGE_PORT: String(storagePort),
      BENDER_PUBLIC_URL: base,
      BENDER_STORAGE_PUBLIC_URL: `http://127.0.0.1:${storagePort}`,
    },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  try {
    await waitForServer(base, server)
  } catch (err) {
    server.kill('SIGKILL')
    throw err
  }
  return { server, base }
}
