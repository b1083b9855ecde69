import { createPublicKey, type KeyObject, verify } from 'node:crypto'

/** Why a device public key was refused; callers prefix it with their own context. */
export class PublicKeyError extends Error {}

/** A device key, parsed, with its canonical PKIX PEM (the form auth sets store and compare). */
export type DevicePublicKey = { key: KeyObject; pem: string }

const MIN_RSA_BITS = 2048
const MAX_RSA_BITS = 4096
/** Node's names for NIST P-256, P-384 and P-521, the curves Mender devices use. */
const EC_CURVES = ['prime256v1', 'secp384r1', 'secp521r1']

/**
 * The largest PEM accepted: an RSA-4096 public key is ~800 bytes, so 16 KiB leaves room for comments
 * and chains while bounding the work a hostile `pubkey` can ask for.
 */
export const MAX_PEM_LENGTH = 16 * 1024

const BEGIN = '-----BEGIN '

/**
 * The first PEM block of the text whose END line follows it (Go's pem.Decode skips anything before
 * it), its type and DER bytes. One pass: the last END of each type is found once, so text of many
 * BEGIN lines without an END costs linear time, not a scan per line.
 */
function decodePem(text: string): { type: string; der: Buffer } | undefined {
  const lastEnd = lastEndOfEachType(text)
  for (let at = text.startsWith(BEGIN) ? 0 : text.indexOf(`\n${BEGIN}`); at >= 0; ) {
    const start = text[at] === '\n' ? at + 1 : at
    const lineEnd = text.indexOf('\n', start)
    if (lineEnd < 0) return undefined
    const line = text.slice(start + BEGIN.length, text[lineEnd - 1] === '\r' ? lineEnd - 1 : lineEnd)
    const type = line.endsWith('-----') ? line.slice(0, -5) : ''
    if (type !== '' && !/[\n-]/.test(type)) {
      const end = `-----END ${type}-----`
      if ((lastEnd.get(type) ?? -1) > lineEnd) {
        const base64 = text.slice(lineEnd + 1, text.indexOf(end, lineEnd + 1)).replace(/\s+/g, '')
        if (!isStrictBase64(base64)) return undefined
        return { type, der: Buffer.from(base64, 'base64') }
      }
    }
    at = text.indexOf(`\n${BEGIN}`, lineEnd)
  }
  return undefined
}

/** Where the last `-----END <type>-----` of each type starts. */
function lastEndOfEachType(text: string): Map<string, number> {
  const found = new Map<string, number>()
  for (let at = text.indexOf('-----END '); at >= 0; at = text.indexOf('-----END ', at + 1)) {
    const close = text.indexOf('-----', at + 9)
    if (close < 0) break
    found.set(text.slice(at + 9, close), at)
  }
  return found
}

/** Padded standard base64, the only form Go's `base64.StdEncoding` accepts. */
function isStrictBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text)
}

function checkKeyType(key: KeyObject): void {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
      if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
        throw new PublicKeyError(`RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, got ${bits}`)
      }
      return
    }
    case 'ec':
      if (!EC_CURVES.includes(key.asymmetricKeyDetails?.namedCurve ?? '')) {
        throw new PublicKeyError('unsupported elliptic curve: use P-256, P-384 or P-521')
      }
      return
    case 'ed25519':
      return
    default:
      throw new PublicKeyError('unrecognized public key type')
  }
}

/**
 * Parses a device's `PUBLIC KEY` PEM (PKIX): RSA 2048-4096 bits, ECDSA P-256/P-384/P-521 or Ed25519.
 * The DER must already be in canonical form (Go's x509 parser refuses the rest, e.g. compressed EC
 * points), so a key that works here works on a Mender server and the other way round.
 */
export function parsePublicKey(pem: string): DevicePublicKey {
  if (pem.length > MAX_PEM_LENGTH) throw new PublicKeyError(`public key longer than ${MAX_PEM_LENGTH} bytes`)
  const block = decodePem(pem)
  if (block?.type !== 'PUBLIC KEY') throw new PublicKeyError('cannot decode public key')
  let key: KeyObject
  try {
    key = createPublicKey({ key: block.der, format: 'der', type: 'spki' })
  } catch {
    throw new PublicKeyError('cannot decode public key: not a PKIX public key')
  }
  checkKeyType(key)
  const canonical = key.export({ type: 'spki', format: 'der' })
  if (!canonical.equals(block.der)) {
    throw new PublicKeyError('cannot decode public key: non-canonical encoding')
  }
  return { key, pem: key.export({ type: 'spki', format: 'pem' }) as string }
}

/**
 * Checks `X-MEN-Signature` (padded standard base64) over the exact request bytes: RSA PKCS#1 v1.5
 * and ECDSA (ASN.1 DER `SEQUENCE{r,s}`) over SHA-256 on every curve, as Mender hashes P-384 and
 * P-521 with SHA-256 too; Ed25519 over the bytes themselves.
 */
export function verifySignature(publicKey: DevicePublicKey, signature: string, data: Uint8Array): boolean {
  // Go's decoder drops line breaks before decoding; anything else outside the alphabet fails.
  const base64 = signature.replace(/[\r\n]/g, '')
  if (!isStrictBase64(base64)) return false
  const bytes = Buffer.from(base64, 'base64')
  const digest = publicKey.key.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  try {
    return verify(digest, data, publicKey.key, bytes)
  } catch {
    // A malformed DER signature or a wrong signature length makes OpenSSL throw: still just a bad signature.
    return false
  }
}
