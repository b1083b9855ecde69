import { ArtifactError } from './errors.ts'

export type ManifestEntry = {
  /** `version`, `header.tar.gz`, `data/0000/<file>`, ... */
  path: string
  /** Lower-case hex sha256. */
  checksum: string
  /** Listed in `manifest-augment` rather than `manifest`. */
  augment: boolean
  /** Whether the artifact has produced this member yet; every entry must be seen by the end. */
  seen: boolean
}

const LINE = /^([0-9a-f]{64}) {2}(\S(?:.*\S)?)$/
const utf8 = new TextDecoder()

/** The checksums an artifact lists for its members, and which of them have been checked. */
export class Manifest {
  readonly #entries = new Map<string, ManifestEntry>()

  /** Adds the lines of `manifest` or `manifest-augment`: `<sha256 hex>  <path>`, one per line. */
  add(text: Uint8Array, augment: boolean): void {
    const what = augment ? 'manifest-augment' : 'manifest'
    for (const raw of utf8.decode(text).split('\n')) {
      const line = raw.trim()
      if (line === '') continue
      const match = LINE.exec(line)
      if (!match) throw new ArtifactError(`${what}: malformed line: ${JSON.stringify(line.slice(0, 200))}`)
      const [, checksum = '', path = ''] = match
      if (this.#entries.has(path)) throw new ArtifactError(`${what}: ${path} is listed twice`)
      this.#entries.set(path, { path, checksum, augment, seen: false })
    }
  }

  /** The entry for `path`, marked as seen; an artifact member the manifest does not list is an error. */
  take(path: string): ManifestEntry {
    const entry = this.#entries.get(path)
    if (!entry) throw new ArtifactError(`manifest: no checksum for ${path}`)
    if (entry.seen) throw new ArtifactError(`${path} appears twice in the artifact`)
    entry.seen = true
    return entry
  }

  entries(): IterableIterator<ManifestEntry> {
    return this.#entries.values()
  }

  /** Fails when an entry never appeared in the artifact (a member was removed). */
  checkAllSeen(): void {
    const missing = [...this.#entries.values()].filter((entry) => !entry.seen).map((entry) => entry.path)
    if (missing.length > 0) {
      throw new ArtifactError(
        `files listed in the manifest are missing from the artifact: ${missing.join(', ')}`,
      )
    }
  }
}

/** Compares a member's computed sha256 with the one its manifest lists. */
export function verifyChecksum(entry: ManifestEntry, actual: string): void {
  if (entry.checksum !== actual) {
    throw new ArtifactError(
      `invalid checksum for ${entry.path}: expected ${entry.checksum}, actual ${actual}`,
    )
  }
}
