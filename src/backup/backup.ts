import { Database } from 'bun:sqlite'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { artifactBlobKey } from '../services/artifacts/model.ts'
import { VERSION } from '../version.ts'
import { BackupError, isEmptyDir, isMissing, linkOrCopy, listObjects, sizeOf, undo } from './files.ts'

/** The file that describes a backup; written last, so a backup without it is incomplete. */
export const MANIFEST = 'bender-backup.json'
export const BACKUP_FORMAT = 1

export type BackupManifest = {
  format: number
  version: string
  created: string
  /** With `s3` the artifacts stay in the bucket and are not in the backup. */
  storage: 'disk' | 's3'
  s3Bucket?: string
  databaseBytes: number
  keys: string[]
  artifacts: number
  artifactBytes: number
  /** Objects the snapshot refers to that were deleted before they could be linked (see backupArtifacts). */
  missing: string[]
}

/** The database file and the key files of a data dir, as `serve` finds them. */
export function dataDirFiles(config: Config) {
  return {
    database: join(config.dataDir, 'bender.db'),
    keysDir: join(config.dataDir, 'keys'),
    jwtKey: config.jwtKeyFile ?? join(config.dataDir, 'keys', 'jwt.pem'),
  }
}

/**
 * A consistent copy of a live database: `VACUUM INTO` reads one snapshot (a WAL read transaction,
 * so the server keeps writing meanwhile) and writes a compact file. bun:sqlite has no binding for
 * SQLite's page-by-page backup API, and `serialize()` would hold the whole database in memory.
 */
function snapshotDatabase(source: string, target: string): void {
  const db = new Database(source, { readwrite: true, create: false })
  try {
    db.run('PRAGMA busy_timeout = 5000')
    db.run('VACUUM INTO ?', [target])
  } finally {
    db.close()
  }
}

/** Blob keys the snapshot refers to: every artifact, and every direct upload not yet settled. */
function referencedKeys(snapshot: string): Set<string> {
  const db = new Database(snapshot, { readonly: true })
  try {
    // Table names rather than the deployments store: this reads a backup file, not the live service.
    const rows = db
      .query(
        'SELECT tenant_id AS tenant, id FROM deployments_artifacts UNION SELECT tenant_id, id FROM deployments_upload_intents',
      )
      .all() as { tenant: string; id: string }[]
    return new Set(rows.map((row) => artifactBlobKey(row.tenant, row.id)))
  } finally {
    db.close()
  }
}

/**
 * Links every object present before the snapshot, takes the snapshot, then links what the snapshot
 * refers to that appeared meanwhile and drops what it does not refer to. Objects are immutable and
 * an artifact's row is written only after its object, so the result holds exactly the snapshot's
 * objects; the one exception is an artifact uploaded and deleted again while the backup ran, whose
 * key is reported in `missing`.
 */
async function backupArtifacts(storageDir: string, target: string, snapshot: () => string) {
  const linked = new Set<string>()
  for (const key of await listObjects(storageDir)) {
    if (await linkOrCopy(join(storageDir, key), join(target, key))) linked.add(key)
  }
  const wanted = referencedKeys(snapshot())
  const missing: string[] = []
  let bytes = 0
  for (const key of wanted) {
    if (!linked.has(key) && !(await linkOrCopy(join(storageDir, key), join(target, key)))) {
      missing.push(key)
      continue
    }
    bytes += await sizeOf(join(target, key))
  }
  for (const key of linked) if (!wanted.has(key)) await rm(join(target, key), { force: true })
  return { count: wanted.size - missing.length, bytes, missing }
}

/** Copies the signing keys: everything in `<data dir>/keys`, and BENDER_JWT_KEY when it lives elsewhere. */
async function backupKeys(config: Config, target: string): Promise<string[]> {
  const { keysDir, jwtKey } = dataDirFiles(config)
  await mkdir(target, { recursive: true, mode: 0o700 })
  let names: string[] = []
  try {
    names = (await readdir(keysDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name)
  } catch (err) {
    if (!isMissing(err)) throw err
  }
  for (const name of names) await copyFile(join(keysDir, name), join(target, name))
  if (resolve(jwtKey) !== resolve(keysDir, 'jwt.pem')) {
    await copyFile(jwtKey, join(target, 'jwt.pem'))
    if (!names.includes('jwt.pem')) names.push('jwt.pem')
  }
  return names.sort()
}

/**
 * Writes a backup of a data dir, live or not, into `to` (which must be empty or absent): the
 * database snapshot, the signing keys and, with disk storage, the artifacts the snapshot refers
 * to. With S3 the bucket keeps the artifacts (use its versioning); only the database and keys are
 * copied.
 */
export async function backup(config: Config, to: string, log: Logger): Promise<BackupManifest> {
  const { database } = dataDirFiles(config)
  if (!(await sizeOf(database))) throw new BackupError(`no database at ${database}`)
  if (!(await isEmptyDir(to))) throw new BackupError(`${to} is not empty: back up into a new directory`)
  const existed = existsSync(to)
  try {
    await mkdir(to, { recursive: true, mode: 0o700 })
    const snapshotPath = join(to, 'bender.db')
    const snapshot = () => {
      snapshotDatabase(database, snapshotPath)
      return snapshotPath
    }
    let artifacts = { count: 0, bytes: 0, missing: [] as string[] }
    if (config.storage === 'disk') {
      artifacts = await backupArtifacts(config.storageDir, join(to, 'artifacts'), snapshot)
    } else snapshot()
    for (const key of artifacts.missing) {
      log.warn('an artifact was deleted while the backup ran; its file is not in the backup', { key })
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: VERSION,
      created: new Date().toISOString(),
      storage: config.storage,
      ...(config.s3 ? { s3Bucket: config.s3.bucket } : {}),
      databaseBytes: await sizeOf(snapshotPath),
      keys: await backupKeys(config, join(to, 'keys')),
      artifacts: artifacts.count,
      artifactBytes: artifacts.bytes,
      missing: artifacts.missing,
    }
    await writeFile(join(to, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 })
    return manifest
  } catch (err) {
    await undo(to, existed)
    throw err
  }
}
