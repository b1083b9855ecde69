import { BadRequestError, UnauthorizedError } from '../../gateway/errors.ts'
import {
  checkIdentitySize,
  type IdentityData,
  IdentityError,
  MAX_IDENTITY_BYTES,
  normaliseIdentity,
  parseIdentity,
} from './identity.ts'
import { DEVICE_STATUSES } from './model.ts'
import { type DevicePublicKey, PublicKeyError, parsePublicKey, verifySignature } from './signature.ts'
import { isDeviceStatus } from './status.ts'

/** A parsed, validated and signature-checked auth request. */
export type AuthRequest = { identity: IdentityData; normalised: string; publicKey: DevicePublicKey }

export type PreauthorizationInput = { identity_data: unknown; pubkey: string; force?: boolean }

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

/** The auth request body as Go would bind it: a JSON object whose known fields are strings. */
function decodeAuthRequest(body: Uint8Array): { id_data: string; pubkey: string } {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(body))
  } catch (err) {
    throw new BadRequestError(`failed to decode auth request: ${(err as Error).message}`)
  }
  if (value === null) return { id_data: '', pubkey: '' }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequestError('failed to decode auth request: the body must be a JSON object')
  }
  const fields = value as Record<string, unknown>
  for (const name of ['id_data', 'pubkey', 'tenant_token']) {
    const field = fields[name]
    if (field !== undefined && field !== null && typeof field !== 'string') {
      throw new BadRequestError(`failed to decode auth request: ${name} must be a string`)
    }
  }
  return { id_data: (fields.id_data as string | null) ?? '', pubkey: (fields.pubkey as string | null) ?? '' }
}

/** Validates an auth request in Mender's order, then checks its signature; nothing is stored before this passes. */
export function checkAuthRequest(body: Uint8Array, signature: string | undefined): AuthRequest {
  const request = decodeAuthRequest(body)
  if (!request.id_data) throw new BadRequestError('invalid auth request: id_data must be provided')
  if (!request.pubkey) throw new BadRequestError('invalid auth request: pubkey must be provided')
  let publicKey: DevicePublicKey
  let identity: IdentityData
  let normalised: string
  try {
    // The cheap bounds first, so an oversized request is refused before any parsing.
    if (request.id_data.length > MAX_IDENTITY_BYTES) parseIdentity(request.id_data)
    publicKey = parsePublicKey(request.pubkey)
    identity = parseIdentity(request.id_data)
    normalised = normaliseIdentity(identity)
  } catch (err) {
    if (err instanceof PublicKeyError || err instanceof IdentityError) {
      throw new BadRequestError(`invalid auth request: ${err.message}`)
    }
    throw err
  }
  if (!signature) throw new BadRequestError('missing request signature header')
  if (!verifySignature(publicKey, signature, body)) {
    throw new UnauthorizedError('signature verification failed', 'DeviceJWT')
  }
  return { identity, normalised, publicKey }
}

/** Validates a preauthorization: an identity object and a supported public key, normalised. */
export function checkPreauthorization(input: PreauthorizationInput) {
  const fail = (message: string) => new BadRequestError(`failed to decode preauth request: ${message}`)
  const identity = input.identity_data
  if (typeof identity !== 'object' || identity === null || Array.isArray(identity)) {
    throw fail('identity_data: must be a JSON object')
  }
  if (Object.keys(identity).length === 0) throw fail('identity_data: cannot be blank')
  if (!input.pubkey) throw fail('pubkey: cannot be blank')
  try {
    checkIdentitySize(identity as IdentityData)
    const normalised = normaliseIdentity(identity as IdentityData)
    if (Buffer.byteLength(normalised) > MAX_IDENTITY_BYTES) {
      throw new IdentityError(`identity data longer than ${MAX_IDENTITY_BYTES} bytes`)
    }
    return { identity: identity as IdentityData, publicKey: parsePublicKey(input.pubkey), normalised }
  } catch (err) {
    if (err instanceof PublicKeyError || err instanceof IdentityError) throw fail(err.message)
    throw err
  }
}

/** Status filters of lists and counts must name real statuses. */
export function checkStatusFilter(statuses: readonly string[] | undefined): void {
  if (statuses?.some((status) => !isDeviceStatus(status))) {
    throw new BadRequestError(`status must be one of: ${DEVICE_STATUSES.join(', ')}`)
  }
}
