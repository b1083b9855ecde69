import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type Config, loadConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import { backup } from './backup.ts'
import { BackupError } from './files.ts'
import { restore } from './restore.ts'

/** `bender backup --to PATH`: safe while the server runs (see backup.ts). */
export async function backupCommand(config: Config, log: Logger, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { to: { type: 'string' } } })
  if (!values.to) throw new BackupError('usage: bender backup --to PATH')
  const started = performance.now()
  const manifest = await backup(config, resolve(values.to), log)
  log.info('backup written', {
    to: resolve(values.to),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    database_bytes: manifest.databaseBytes,
    artifacts: manifest.artifacts,
    artifact_bytes: manifest.artifactBytes,
    storage: manifest.storage,
  })
  if (manifest.storage === 's3') {
    log.info('artifacts stay in the S3 bucket and are not in the backup; keep the bucket versioned', {
      bucket: manifest.s3Bucket,
    })
  }
}

/** `bender restore --from PATH --data-dir DIR`: into an empty (or new) data dir only. */
export async function restoreCommand(log: Logger, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, 'data-dir': { type: 'string' } },
  })
  const dataDir = values['data-dir']
  if (!values.from || !dataDir) throw new BackupError('usage: bender restore --from PATH --data-dir DIR')
  const config = loadConfig({ ...process.env, BENDER_DATA_DIR: dataDir })
  const manifest = await restore(resolve(values.from), config)
  log.info('backup restored', {
    data_dir: config.dataDir,
    created: manifest.created,
    artifacts: manifest.artifacts,
    storage: manifest.storage,
  })
}
