/** Why identity data was refused; callers prefix it with their own context. */
export class IdentityError extends Error {}

export type IdentityData = Record<string, unknown>

/**
 * Bounds on identity data, checked before anything else is done with it. A Mender client sends the
 * few `key=value` lines of its identity script (a MAC address, a serial number): well under 1 KiB.
 */
export const MAX_IDENTITY_BYTES = 4096
export const MAX_IDENTITY_KEYS = 64

/** Go's decoder refuses deeper nesting, so such identity data is refused here too. */
const MAX_DEPTH = 10_000

/** Characters Go's encoder escapes beyond what JSON.stringify does: HTML-sensitive ones and JS line breaks. */
const GO_EXTRA_ESCAPES = /[<>&\u2028\u2029]/g

const escapeChar = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`

/**
 * A string as Go's encoding/json writes it. JSON.stringify already escapes `"`, `\`, and control
 * characters exactly as Go does (`\b \f \n \r \t`, else `\u00xx`); Go also escapes `<>&` and
 * U+2028/U+2029, and its decoder had turned lone surrogates into U+FFFD.
 */
function encodeString(value: string): string {
  return JSON.stringify(value.toWellFormed()).replace(GO_EXTRA_ESCAPES, escapeChar)
}

/** Go formats a float64 like JavaScript does (shortest round trip, same exponent thresholds) except -0. */
function encodeNumber(value: number): string {
  if (!Number.isFinite(value)) throw new IdentityError('number out of range')
  return Object.is(value, -0) ? '-0' : String(value)
}

/** Go sorts map keys by their UTF-8 bytes, which is code point order, not JavaScript's UTF-16 order. */
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

function encodeScalar(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      return encodeNumber(value)
    case 'string':
      return encodeString(value)
    default:
      throw new IdentityError(`unsupported value of type ${typeof value}`)
  }
}

/** The members of an object or array, each with what precedes it in the output (comma, key). */
function members(value: object): [string, unknown][] {
  if (Array.isArray(value)) return value.map((item, i) => [i === 0 ? '' : ',', item])
  // Keys that only differed by a lone surrogate collapse into one, the later value winning, as in Go.
  const entries = new Map<string, unknown>()
  for (const [key, item] of Object.entries(value)) entries.set(key.toWellFormed(), item)
  return [...entries.keys()]
    .sort(byUtf8)
    .map((key, i) => [`${i === 0 ? '' : ','}${encodeString(key)}:`, entries.get(key)])
}

/** Iterative, so that nesting as deep as Go accepts cannot overflow the call stack. */
function encode(root: unknown): string {
  const out: string[] = []
  const open: { members: [string, unknown][]; next: number; close: string }[] = []
  let member: [string, unknown] | undefined = ['', root]
  while (member) {
    const [prefix, value] = member
    out.push(prefix)
    if (typeof value === 'object' && value !== null) {
      if (open.length >= MAX_DEPTH) throw new IdentityError('exceeded max depth')
      const isArray = Array.isArray(value)
      out.push(isArray ? '[' : '{')
      open.push({ members: members(value), next: 0, close: isArray ? ']' : '}' })
    } else {
      out.push(encodeScalar(value))
    }
    member = undefined
    while (!member && open.length > 0) {
      const top = open.at(-1)!
      if (top.next < top.members.length) member = top.members[top.next++]
      else {
        out.push(top.close)
        open.pop()
      }
    }
  }
  return out.join('')
}

/**
 * Identity data in Mender's normal form: what Go's encoding/json produces when it re-encodes the data
 * decoded into a map (sorted keys at every level, no whitespace, Go's escaping and number format).
 * The SHA-256 of this text is the device's identity key, so the form must match byte for byte.
 */
export function normaliseIdentity(identity: IdentityData): string {
  return encode(identity)
}

/** Refuses identity data with too many top-level keys (every one becomes an inventory attribute). */
export function checkIdentitySize(identity: IdentityData): void {
  let keys = 0
  for (const _ in identity) if (++keys > MAX_IDENTITY_KEYS) break
  if (keys > MAX_IDENTITY_KEYS)
    throw new IdentityError(`identity data has more than ${MAX_IDENTITY_KEYS} keys`)
}

/** Parses a device's `id_data` text, which must be a JSON object of bounded size. */
export function parseIdentity(text: string): IdentityData {
  if (Buffer.byteLength(text) > MAX_IDENTITY_BYTES) {
    throw new IdentityError(`identity data longer than ${MAX_IDENTITY_BYTES} bytes`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new IdentityError((err as Error).message)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IdentityError('identity data must be a JSON object')
  }
  checkIdentitySize(value as IdentityData)
  return value as IdentityData
}

/** The device identity key: the hex SHA-256 of the normalised identity. */
export const identityHash = (normalised: string): string =>
  new Bun.CryptoHasher('sha256').update(normalised).digest('hex')
