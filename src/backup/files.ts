import { copyFile, link, mkdir, readdir, rm, stat } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'

/** Raised for a backup or restore the operator must fix (a non-empty target, no manifest ...). */
export class BackupError extends Error {}

export const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT'

/** True when `path` does not exist or is an empty directory. */
export async function isEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length === 0
  } catch (err) {
    if (isMissing(err)) return true
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return false
    throw err
  }
}

/**
 * Makes `to` the same file as `from`: a hard link when both sit on one file system (instant, no
 * space; safe because artifact objects are never written in place), a copy otherwise. Returns
 * false when `from` is gone.
 */
export async function linkOrCopy(from: string, to: string): Promise<boolean> {
  await mkdir(dirname(to), { recursive: true })
  try {
    await link(from, to)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return true
    if (isMissing(err)) return false
    if (code !== 'EXDEV' && code !== 'EPERM') throw err
  }
  try {
    await copyFile(from, to)
    return true
  } catch (err) {
    if (isMissing(err)) return false
    throw err
  }
}

/**
 * The objects of a disk blob store: every file under `root` whose path has no dot-named segment
 * (those are a put's temp files), as `/`-separated keys.
 */
export async function listObjects(root: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(root, { recursive: true })
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
  const keys: string[] = []
  for (const name of names) {
    const key = name.split(sep).join('/')
    if (key.split('/').some((segment) => segment.startsWith('.'))) continue
    if ((await stat(join(root, name))).isFile()) keys.push(key)
  }
  return keys
}

/** Removes what a failed backup or restore wrote: the whole dir when it made it, else its entries. */
export async function undo(path: string, existedBefore: boolean): Promise<void> {
  if (!existedBefore) {
    await rm(path, { recursive: true, force: true })
    return
  }
  for (const name of await readdir(path).catch(() => [] as string[])) {
    await rm(join(path, name), { recursive: true, force: true })
  }
}

/** Size in bytes of a file, 0 when it is missing. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (err) {
    if (isMissing(err)) return 0
    throw err
  }
}
