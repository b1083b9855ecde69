import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** A key file that is missing (where it must exist) or unusable; the message names it. */
export class KeyFileError extends Error {}

/**
 * The bytes of the key file at `path`; when there is none, `make()` writes one first, readable by
 * the owner only (its folder 0700, the file 0600), never over a file made meanwhile.
 */
export function readOrCreateKeyFile(path: string, make: () => string | Uint8Array): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    writeFileSync(path, make(), { mode: 0o600, flag: 'wx' })
    // The umask may have narrowed the mode above; make it exactly owner read/write.
    chmodSync(path, 0o600)
  }
  return readFileSync(path)
}
