import type { DevicePrincipal } from '../../gateway/auth.ts'

/**
 * Verified device tokens for a whole fleet. At Mender's default intervals a device polls every 30
 * minutes, so a device's token comes back only after every other device has polled: a cache that
 * is to hit must hold every device. An entry is 64 bytes in typed arrays (the token's SHA-256 cut
 * to 128 bits, the device and auth set ids as 128-bit UUIDs, the tenant as an index, the expiry,
 * the revocation count at which the token row was last found, the last check-in second), so a
 * million devices cost 64-170 MiB depending on where the table is in its growth, and the garbage
 * collector never sees them.
 *
 * Buckets of 8 slots, chosen by the hash. The table starts small and doubles while the old and the
 * new table together fit the memory budget; a doubling moves the old buckets a few per insert (and
 * the one an insert needs at once), so no request waits for the whole table to move. A full bucket
 * gives up its expired or least recently checked-in entry: a device evicted that way verifies its
 * token again at its next poll, nothing more.
 */

const WAYS = 8
/** 32-bit words a slot takes in each array. */
const KEY_WORDS = 4
const ID_WORDS = 8
const META_WORDS = 4
/** Bytes of one slot across the three arrays. */
export const SLOT_BYTES = (KEY_WORDS + ID_WORDS + META_WORDS) * 4
const INITIAL_BUCKETS = 1024
/** Old buckets moved to the new table per insert while it doubles. */
const MOVES_PER_INSERT = 4
/** Meta words: tenant index, expiry second (0: empty slot), revocation stamp, last check-in second. */
const TENANT = 0
const EXPIRES = 1
const CONFIRMED = 2
const CHECK_IN = 3
/** The expiry second of a token without `exp`. */
const NEVER = 0xffffffff
const MAX_TENANTS = 65_536
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Where a cached principal's entry is: the 128-bit token hash, found again by the authenticator. */
export const ENTRY_KEY = Symbol('token-cache-entry')
export type CachedPrincipal = DevicePrincipal & { readonly [ENTRY_KEY]?: readonly number[] }

type Table = { buckets: number; keys: Uint32Array; ids: Uint32Array; meta: Uint32Array }

const newTable = (buckets: number): Table => ({
  buckets,
  keys: new Uint32Array(buckets * WAYS * KEY_WORDS),
  ids: new Uint32Array(buckets * WAYS * ID_WORDS),
  meta: new Uint32Array(buckets * WAYS * META_WORDS),
})
const tableBytes = (buckets: number) => buckets * WAYS * SLOT_BYTES

/** The four 32-bit words of a lowercase UUID; undefined for any other id (those are not cached here). */
function uuidWords(id: string): number[] | undefined {
  if (!UUID.test(id)) return undefined
  const hex = id.replaceAll('-', '')
  return [0, 8, 16, 24].map((at) => Number.parseInt(hex.slice(at, at + 8), 16))
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))
const hex16 = (half: number) => HEX[half >>> 8]! + HEX[half & 255]!
const hex32 = (word: number) => hex16(word >>> 16) + hex16(word & 0xffff)

/** The UUID text of four words (every cached request rebuilds two: kept to table lookups). */
function uuidText(words: Uint32Array, at: number): string {
  const [a, b, c, d] = [words[at]!, words[at + 1]!, words[at + 2]!, words[at + 3]!]
  return `${hex32(a)}-${hex16(b >>> 16)}-${hex16(b & 0xffff)}-${hex16(c >>> 16)}-${hex16(c & 0xffff)}${hex32(d)}`
}

/** What one entry says beside its principal, for the authenticator's liveness check. */
export type EntryState = { confirmed: number; checkIn: number }

export class DeviceTokenCache {
  private table: Table = newTable(INITIAL_BUCKETS)
  /** The table being emptied into `table` while it doubles, and how many of its buckets have moved. */
  private old: Table | undefined
  private moved = 0
  private count = 0
  private readonly tenants: string[] = ['']
  private readonly tenantIndex = new Map<string, number>([['', 0]])
  private readonly digest = new Uint8Array(32)
  private readonly digestWords = new Uint32Array(this.digest.buffer, 0, KEY_WORDS)
  private readonly maxBuckets: number

  /** `budgetBytes` bounds the arrays, the old table included while the table doubles. */
  constructor(budgetBytes: number) {
    let max = INITIAL_BUCKETS
    while (tableBytes(max) + tableBytes(max * 2) <= budgetBytes) max *= 2
    this.maxBuckets = max
  }

  /** The 128-bit key a token is held under (the first half of its SHA-256). */
  keyOf(token: string): number[] {
    return Array.from(this.hash(token))
  }

  /** The principal of a cached, unexpired token. */
  get(token: string, nowMs: number): CachedPrincipal | undefined {
    const key = this.hash(token)
    const found = this.find(key)
    if (!found) return undefined
    const { t, slot } = found
    if (t.meta[slot * META_WORDS + EXPIRES]! * 1000 <= nowMs) {
      this.clear(t, slot)
      return undefined
    }
    const ids = slot * ID_WORDS
    return {
      deviceId: uuidText(t.ids, ids),
      tenantId: this.tenants[t.meta[slot * META_WORDS + TENANT]!]!,
      authSetId: uuidText(t.ids, ids + 4),
      [ENTRY_KEY]: Array.from(key),
    }
  }

  /** Keeps a verified token; answers false when its principal cannot be held here (ids that are not UUIDs). */
  set(token: string, entry: { principal: DevicePrincipal; expiresAt: number | undefined }): boolean {
    const { deviceId, authSetId, tenantId } = entry.principal
    const device = uuidWords(deviceId)
    const authSet = uuidWords(authSetId)
    const tenant = this.tenant(tenantId)
    if (!device || !authSet || tenant === undefined) return false
    const key = this.hash(token)
    this.moveSome()
    // Three quarters full, or this key's bucket is: double while the budget allows.
    const full =
      this.count >= (this.table.buckets * WAYS * 3) / 4 ||
      (this.find(key) === undefined && this.bucketFull(key))
    if (full && !this.old && this.table.buckets < this.maxBuckets) {
      this.old = this.table
      this.table = newTable(this.table.buckets * 2)
      this.moved = 0
    }
    const slot = this.slotFor(key)
    const t = this.table
    const isNew = t.meta[slot * META_WORDS + EXPIRES] === 0
    t.keys.set(key, slot * KEY_WORDS)
    t.ids.set(device, slot * ID_WORDS)
    t.ids.set(authSet, slot * ID_WORDS + 4)
    const expires =
      entry.expiresAt === undefined ? NEVER : Math.min(NEVER - 1, Math.ceil(entry.expiresAt / 1000))
    t.meta.set([tenant, Math.max(1, expires), 0, 0], slot * META_WORDS)
    if (isNew) this.count++
    return true
  }

  /** The entry's revocation stamp and last check-in second; undefined once it is gone. */
  state(key: readonly number[]): EntryState | undefined {
    const found = this.find(key)
    if (!found) return undefined
    const meta = found.slot * META_WORDS
    return { confirmed: found.t.meta[meta + CONFIRMED]!, checkIn: found.t.meta[meta + CHECK_IN]! }
  }

  /** Updates the entry's revocation stamp and/or last check-in second, if it is still here. */
  update(key: readonly number[], change: Partial<EntryState>): void {
    const found = this.find(key)
    if (!found) return
    const meta = found.slot * META_WORDS
    if (change.confirmed !== undefined) found.t.meta[meta + CONFIRMED] = change.confirmed
    if (change.checkIn !== undefined) found.t.meta[meta + CHECK_IN] = change.checkIn
  }

  /** Tokens held. */
  get size(): number {
    return this.count
  }

  /** Bytes of the arrays now (both tables while it doubles). */
  get bytes(): number {
    return tableBytes(this.table.buckets) + (this.old ? tableBytes(this.old.buckets) : 0)
  }

  /** The token's SHA-256, its first 128 bits (a digest only a cryptographic hash makes safe to trust). */
  private hash(token: string): Uint32Array {
    Bun.SHA256.hash(token, this.digest)
    return this.digestWords
  }

  private tenant(tenantId: string): number | undefined {
    const known = this.tenantIndex.get(tenantId)
    if (known !== undefined || this.tenants.length >= MAX_TENANTS) return known
    this.tenantIndex.set(tenantId, this.tenants.length)
    this.tenants.push(tenantId)
    return this.tenants.length - 1
  }

  /**
   * The table holding the key's bucket: the old one while its bucket there still holds entries
   * (nothing is added to the old table, and a bucket moves whole, so an empty one has moved or
   * had nothing to move).
   */
  private home(key: ArrayLike<number>): Table {
    const old = this.old
    return old && this.holds(old, key[0]! & (old.buckets - 1)) ? old : this.table
  }

  private bucketFull(key: ArrayLike<number>): boolean {
    const t = this.home(key)
    const bucket = key[0]! & (t.buckets - 1)
    for (let slot = bucket * WAYS; slot < (bucket + 1) * WAYS; slot++) {
      if (t.meta[slot * META_WORDS + EXPIRES] === 0) return false
    }
    return true
  }

  private holds(t: Table, bucket: number): boolean {
    for (let slot = bucket * WAYS; slot < (bucket + 1) * WAYS; slot++) {
      if (t.meta[slot * META_WORDS + EXPIRES] !== 0) return true
    }
    return false
  }

  private find(key: ArrayLike<number>): { t: Table; slot: number } | undefined {
    const t = this.home(key)
    const first = (key[0]! & (t.buckets - 1)) * WAYS
    for (let slot = first; slot < first + WAYS; slot++) {
      const k = slot * KEY_WORDS
      if (
        t.meta[slot * META_WORDS + EXPIRES] !== 0 &&
        t.keys[k] === key[0] &&
        t.keys[k + 1] === key[1] &&
        t.keys[k + 2] === key[2] &&
        t.keys[k + 3] === key[3]
      ) {
        return { t, slot }
      }
    }
    return undefined
  }

  /** The slot of the new table the key goes to: its own, an empty one, else the bucket's stalest. */
  private slotFor(key: ArrayLike<number>): number {
    const old = this.old
    if (old) {
      this.moveBucket(old, key[0]! & (old.buckets - 1))
    }
    const t = this.table
    const first = (key[0]! & (t.buckets - 1)) * WAYS
    let stalest = first
    for (let slot = first; slot < first + WAYS; slot++) {
      const meta = slot * META_WORDS
      if (t.meta[meta + EXPIRES] === 0) return slot
      const k = slot * KEY_WORDS
      if (
        t.keys[k] === key[0] &&
        t.keys[k + 1] === key[1] &&
        t.keys[k + 2] === key[2] &&
        t.keys[k + 3] === key[3]
      ) {
        return slot
      }
      if (this.staleness(t, slot) < this.staleness(t, stalest)) stalest = slot
    }
    this.clear(t, stalest)
    return stalest
  }

  /** Lower is staler: an expired entry first, then the one whose device checked in longest ago. */
  private staleness(t: Table, slot: number): number {
    const meta = slot * META_WORDS
    return t.meta[meta + EXPIRES]! * 1000 <= Date.now() ? -1 : t.meta[meta + CHECK_IN]!
  }

  private clear(t: Table, slot: number): void {
    t.meta[slot * META_WORDS + EXPIRES] = 0
    this.count--
  }

  /** Moves a few old buckets while the table doubles; drops the old table once all have moved. */
  private moveSome(): void {
    const old = this.old
    if (!old) return
    for (let i = 0; i < MOVES_PER_INSERT && this.moved < old.buckets; i++) {
      this.moveBucket(old, this.moved)
    }
    if (this.moved >= old.buckets) this.old = undefined
  }

  /**
   * Moves one old bucket's entries to the new table, into the two buckets it splits into (both
   * still empty: nothing is written there before its old bucket has moved); the cursor passes it
   * when it was the next in order.
   */
  private moveBucket(old: Table, bucket: number): void {
    const t = this.table
    const fill = new Map<number, number>()
    for (let slot = bucket * WAYS; slot < (bucket + 1) * WAYS; slot++) {
      if (old.meta[slot * META_WORDS + EXPIRES] === 0) continue
      const target = old.keys[slot * KEY_WORDS]! & (t.buckets - 1)
      const used = fill.get(target) ?? 0
      fill.set(target, used + 1)
      const to = target * WAYS + used
      t.keys.set(old.keys.subarray(slot * KEY_WORDS, (slot + 1) * KEY_WORDS), to * KEY_WORDS)
      t.ids.set(old.ids.subarray(slot * ID_WORDS, (slot + 1) * ID_WORDS), to * ID_WORDS)
      t.meta.set(old.meta.subarray(slot * META_WORDS, (slot + 1) * META_WORDS), to * META_WORDS)
      old.meta[slot * META_WORDS + EXPIRES] = 0
    }
    if (bucket === this.moved) this.moved++
  }
}
