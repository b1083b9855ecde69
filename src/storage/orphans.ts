import type { Config } from '../config.ts'
import { type BlobStore, isBlobKey } from './blobs.ts'

/**
 * Slack past the upload link's lifetime. A PUT may start just before its link expires and run for
 * hours on a slow line, processing follows it, and S3 stamps a multipart object with the time the
 * upload began; a day covers all of that, and an orphan costing disk for a day is harmless.
 */
const MARGIN_SECONDS = 24 * 3600

export type SweepOptions = {
  /** True for keys something still refers to: an artifact row, or a direct upload not yet processed. */
  isReferenced(key: string): Promise<boolean>
  /** Only objects last modified before this are candidates (see `orphanCutoff`). */
  olderThan: Date
  /** Limits the sweep to keys under this prefix, for a bucket shared with other data. */
  prefix?: string
}

export type SweepResult = { removed: string[]; staleTemp: number }

/** Whether a link that expired at `expires` is past all use: expired, and a margin more. */
export function expiredLongAgo(expires: Date, now: Date): boolean {
  return expires.getTime() < now.getTime() - MARGIN_SECONDS * 1000
}

/** The newest modification time an unreferenced object can have and still be an orphan. */
export function orphanCutoff(config: Config, now: Date): Date {
  return new Date(now.getTime() - (config.uploadLinkTtlSeconds + MARGIN_SECONDS) * 1000)
}

/**
 * Removes objects nothing refers to that are older than the longest upload window, and everything
 * interrupted puts left behind, whatever its age: meant for start-up, before any upload is in
 * flight, so a temp file can only be a crashed put's (after a `kill -9` mid-upload, a restart
 * removes it at once rather than a day later).
 */
export async function sweepOrphans(blobs: BlobStore, options: SweepOptions): Promise<SweepResult> {
  const removed: string[] = []
  for await (const { key, mtime } of blobs.list(options.prefix)) {
    // A key bender could not have written is someone else's object, never an orphan of ours.
    if (isBlobKey(key) && mtime < options.olderThan && !(await options.isReferenced(key))) {
      await blobs.delete(key)
      removed.push(key)
    }
  }
  const staleTemp = (await blobs.removeStaleTemp?.()) ?? 0
  return { removed, staleTemp }
}
