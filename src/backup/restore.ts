import { Database } from 'bun:sqlite'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config.ts'
import { BACKUP_FORMAT, type BackupManifest, dataDirFiles, MANIFEST } from './backup.ts'
import { BackupError, isEmptyDir, isMissing, linkOrCopy, listObjects, undo } from './files.ts'

async function readManifest(from: string): Promise<BackupManifest> {
  let text: string
  try {
    text = await readFile(join(from, MANIFEST), 'utf8')
  } catch (err) {
    if (isMissing(err)) throw new BackupError(`${from} is not a complete bender backup (no ${MANIFEST})`)
    throw err
  }
  const manifest = JSON.parse(text) as BackupManifest
  if (manifest.format !== BACKUP_FORMAT) {
    throw new BackupError(
      `${from}: backup format ${manifest.format} is not supported (expected ${BACKUP_FORMAT})`,
    )
  }
  return manifest
}

/** The restored database must open and pass SQLite's structural check before anything serves it. */
function checkDatabase(path: string): void {
  const db = new Database(path, { readonly: true })
  try {
    const row = db.query('PRAGMA quick_check').get() as Record<string, string>
    const result = Object.values(row)[0]
    if (result !== 'ok') throw new BackupError(`the backup's database is damaged: ${result}`)
  } finally {
    db.close()
  }
}

/**
 * Restores a backup into the data dir of `config`, which must be empty or absent: the database,
 * the signing keys into `<data dir>/keys`, and a disk backup's artifacts into the disk store.
 * Nothing is left behind when it fails.
 */
export async function restore(from: string, config: Config): Promise<BackupManifest> {
  const manifest = await readManifest(from)
  if (manifest.storage === 'disk' && config.storage !== 'disk') {
    throw new BackupError('this backup holds its artifacts on disk: restore it with BENDER_STORAGE=disk')
  }
  const dataDir = config.dataDir
  if (!(await isEmptyDir(dataDir))) {
    throw new BackupError(`${dataDir} is not empty: restore into a new data dir`)
  }
  const existed = existsSync(dataDir)
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const { database, keysDir } = dataDirFiles(config)
    await copyFile(join(from, 'bender.db'), database)
    checkDatabase(database)
    await mkdir(keysDir, { recursive: true, mode: 0o700 })
    for (const name of manifest.keys) {
      await copyFile(join(from, 'keys', name), join(keysDir, name))
      await chmod(join(keysDir, name), 0o600)
    }
    if (manifest.storage === 'disk') {
      for (const key of await listObjects(join(from, 'artifacts'))) {
        await linkOrCopy(join(from, 'artifacts', key), join(config.storageDir, key))
      }
    }
    return manifest
  } catch (err) {
    await undo(dataDir, existed)
    throw err
  }
}
