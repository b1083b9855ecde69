#!/usr/bin/env bun
import { parseArgs } from 'node:util'
import { DatabaseError } from '../db/errors.ts'
import type { Services } from './app.ts'
import { createApp, createServices, stopServices } from './app.ts'
import { backupCommand, restoreCommand } from './backup/cli.ts'
import { BackupError } from './backup/files.ts'
import { ConfigError, loadConfig } from './config.ts'
import { buildDeps, closeDeps, type Deps } from './deps.ts'
import { ApiError } from './gateway/errors.ts'
import { KeyFileError } from './key-file.ts'
import { createLogger } from './log.ts'
import { createRetentionService } from './retention/service.ts'
import { startServer } from './server.ts'
import { createUseradmService } from './services/useradm/service.ts'
import { VERSION } from './version.ts'

const USAGE = `bender ${VERSION}: a Mender-compatible OTA update server

Usage:
  bender [serve]                                      start the server (the default)
  bender user create --email E --password P          create a user; prints its id
  bender user set-password --email E --password P    set a user's password (revokes their tokens)
  bender migrate                                      apply database migrations and exit
  bender backup --to PATH                             back up the data dir into PATH (server may run)
  bender restore --from PATH --data-dir DIR           restore a backup into an empty data dir
  bender version                                      print the version

Settings come from BENDER_* environment variables (see the README).`

/** How this process was started, so messages show a command the operator can paste. */
function selfCommand(): string {
  return Bun.main.startsWith('/$bunfs/') ? process.execPath : 'npm run bender --'
}

async function ensureFirstUser(deps: Deps, services: Pick<Services, 'useradm' | 'setup'>): Promise<void> {
  const { useradm, setup } = services
  const { adminEmail, adminPassword } = deps.config
  if (adminEmail && adminPassword) {
    if (await useradm.findUserByEmail(adminEmail)) return
    const user = await useradm.createUser('', { email: adminEmail, password: adminPassword })
    deps.log.info('created the admin user from BENDER_ADMIN_EMAIL', { email: user.email, user_id: user.id })
    return
  }
  const token = await setup.issueToken()
  if (token) {
    // The token rides in the fragment, which the browser never sends: it stays out of access logs.
    deps.log.warn(
      `no users yet: open ${deps.config.publicUrl}/#/setup/${token} within an hour to create the first admin (the link works once), or create one with \`${selfCommand()} user create --email you@example.com --password <8+ characters>\` (or set BENDER_ADMIN_EMAIL and BENDER_ADMIN_PASSWORD)`,
    )
  }
}

async function serve(deps: Deps): Promise<void> {
  const services = createServices(deps, await deps.database.openCluster(deps.log))
  await ensureFirstUser(deps, services)
  // Before listening: no upload is in flight, so whatever nothing refers to is an orphan.
  const swept = await services.artifacts.startUp()
  if (swept.removed.length > 0 || swept.staleTemp > 0) {
    deps.log.info('removed orphaned artifact objects', {
      objects: swept.removed.length,
      temp_files: swept.staleTemp,
    })
  }
  const retention = createRetentionService(deps, deps.stores.retention)
  const running = await startServer(
    deps,
    createApp(deps, services),
    () => stopServices(services),
    services.artifacts,
  )
  services.cluster.leases.run('retention', () => {
    retention.start()
    return () => retention.stop()
  })
  // From the process's start (performance's time origin): what an operator compares across versions.
  deps.log.info('ready', { startup_ms: Math.round(performance.now()) })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      deps.log.info('stopping', { signal })
      // The signal handler cannot wait; the process ends once the server has stopped.
      void running.stop().then(() => process.exit(0))
    })
  }
}

async function userCommand(deps: Deps, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { email: { type: 'string' }, password: { type: 'string' } },
    allowPositionals: true,
  })
  const [verb] = positionals
  if (!values.email || !values.password || (verb !== 'create' && verb !== 'set-password')) {
    throw new UsageError('usage: bender user create|set-password --email E --password P')
  }
  const useradm = createUseradmService(deps)
  const user =
    verb === 'create'
      ? await useradm.createUser('', { email: values.email, password: values.password })
      : await useradm.setPassword(values.email, values.password)
  console.log(user.id)
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv
  if (command === 'version' || command === '--version') {
    console.log(VERSION)
    return
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE)
    return
  }
  if (!['serve', 'user', 'migrate', 'backup', 'restore'].includes(command))
    throw new UsageError(`unknown command "${command}"\n\n${USAGE}`)
  // Neither opens the data dir the way serve does: a backup reads a live one, a restore makes one.
  if (command === 'backup') {
    const config = loadConfig()
    if (config.databaseUrl)
      throw new ConfigError(
        "bender backup copies a SQLite data dir; with BENDER_DATABASE_URL, back the database up with pg_dump (or your service's snapshots) and the S3 bucket with its versioning",
      )
    return backupCommand(config, createLogger(config.logLevel, undefined, config.logFormat), rest)
  }
  if (command === 'restore') {
    const config = loadConfig()
    return restoreCommand(createLogger(config.logLevel, undefined, config.logFormat), rest)
  }
  const config = loadConfig()
  const deps = await buildDeps(config)
  if (command === 'serve') return serve(deps)
  try {
    if (command === 'migrate') deps.log.info('database migrated', { data_dir: deps.config.dataDir })
    else await userCommand(deps, rest)
  } finally {
    await closeDeps(deps)
  }
}

main(process.argv.slice(2)).catch((err) => {
  const known =
    err instanceof ConfigError ||
    err instanceof UsageError ||
    err instanceof KeyFileError ||
    err instanceof BackupError ||
    err instanceof DatabaseError
  if (known || err instanceof ApiError) console.error(`bender: ${err.message}`)
  else console.error('bender: failed:', err)
  process.exit(known ? 2 : 1)
})
