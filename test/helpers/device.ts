import { expect } from 'bun:test'
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import type { Caller, Reply } from './app.ts'

export const AUTH_REQUESTS = '/api/devices/v1/authentication/auth_requests'

export type DeviceKeyType = 'rsa' | 'rsa3072' | 'P-256' | 'P-384' | 'P-521' | 'ed25519'

export function generateDeviceKey(type: DeviceKeyType = 'rsa') {
  switch (type) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 })
    case 'rsa3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 })
    case 'ed25519':
      return generateKeyPairSync('ed25519')
    default:
      return generateKeyPairSync('ec', { namedCurve: type })
  }
}

/**
 * A device as the Mender client presents itself: identity data serialised to a string, its public
 * key as PKIX PEM, the body written by Go's json.Encoder (hence the trailing newline), and a
 * signature over those exact bytes.
 */
export class TestDevice {
  keys: { publicKey: KeyObject; privateKey: KeyObject }

  constructor(
    readonly identity: Record<string, unknown> = { mac: randomMac() },
    keyType: DeviceKeyType = 'rsa',
  ) {
    this.keys = generateDeviceKey(keyType)
  }

  get pubkey(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'pem' }) as string
  }

  /** Switches to a new key (key rotation), keeping the identity. */
  rotateKey(keyType: DeviceKeyType = 'rsa'): void {
    this.keys = generateDeviceKey(keyType)
  }

  authRequestBody(): string {
    return `${JSON.stringify({ id_data: JSON.stringify(this.identity), tenant_token: '', pubkey: this.pubkey })}\n`
  }

  sign(body: string | Uint8Array): string {
    const digest = this.keys.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
    return sign(digest, Buffer.from(body), this.keys.privateKey).toString('base64')
  }

  /** The headers the Go client sends with an auth request. */
  authHeaders(body: string): Record<string, string> {
    return {
      'content-type': 'application/json',
      authorization: 'Bearer ',
      'x-men-signature': this.sign(body),
    }
  }
}

export function randomMac(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join(
    ':',
  )
}

/** Sends the device's auth request to an in-process app (or a server over HTTP). */
export function authenticate(t: Caller, device: TestDevice): Promise<Reply> {
  const body = device.authRequestBody()
  return t.call('POST', AUTH_REQUESTS, { raw: body, headers: device.authHeaders(body) })
}

/** The id of the device with this identity, read through the management API. */
export async function findDevice(t: Caller, token: string, device: TestDevice) {
  const res = await t.call('GET', '/api/management/v2/devauth/devices?per_page=500', { token })
  const found = (res.json as any[]).find((d) => Bun.deepEquals(d.identity_data, device.identity))
  if (!found) throw new Error('device not listed')
  return found
}

/**
 * The one way tests seed an accepted device: its first auth request is refused (it shows up
 * pending), the operator accepts its auth set through the management API, and its next auth
 * request gets a token.
 */
export async function acceptedDevice(t: Caller, admin: string, device = new TestDevice()) {
  expect((await authenticate(t, device)).status).toBe(401)
  const listed = await findDevice(t, admin, device)
  const authSetId = listed.auth_sets[0].id as string
  const accepted = await t.call(
    'PUT',
    `/api/management/v2/devauth/devices/${listed.id}/auth/${authSetId}/status`,
    { token: admin, body: { status: 'accepted' } },
  )
  expect(accepted.status).toBe(204)
  const auth = await authenticate(t, device)
  expect(auth.status).toBe(200)
  return { device, id: listed.id as string, authSetId, token: auth.text }
}
