import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { type JWTPayload, jwtVerify, SignJWT } from 'jose'
import type { Clock } from './clock.ts'
import type { Config } from './config.ts'
import { KeyFileError, readOrCreateKeyFile } from './key-file.ts'

export type Claims = JWTPayload & Record<string, unknown>

/** Signs and verifies the server's JWTs (user and device) with one key kept in the data dir. */
export type Tokens = {
  alg: 'RS256' | 'EdDSA'
  /** `kid` goes into the header when given: Mender's user tokens carry an integer key id. */
  sign(claims: Claims, header?: { kid?: number }): Promise<string>
  /** Checks signature and expiry; throws on any failure. */
  verify(token: string): Promise<Claims>
}

const MIN_RSA_BITS = 2048

function readOrCreateKey(config: Config): KeyObject {
  const path = config.jwtKeyFile ?? join(config.dataDir, 'keys', 'jwt.pem')
  if (config.jwtKeyFile && !existsSync(path)) throw new KeyFileError(`BENDER_JWT_KEY: no such file ${path}`)
  // RSA keeps tokens in Mender's RS256 form; 2048 bits signs fast enough for device auth bursts.
  const makeKey = () =>
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  const pem = readOrCreateKeyFile(path, makeKey)
  try {
    return createPrivateKey(pem)
  } catch (err) {
    throw new KeyFileError(`${path}: not a PEM private key (${(err as Error).message})`)
  }
}

export function createTokens(config: Config, clock: Clock): Tokens {
  const privateKey = readOrCreateKey(config)
  const type = privateKey.asymmetricKeyType
  if (type !== 'rsa' && type !== 'ed25519') {
    throw new KeyFileError(`the JWT key must be RSA or Ed25519, got ${type}`)
  }
  // jose refuses to sign RS256 with fewer bits: such a key would start and then fail every login.
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0
  if (type === 'rsa' && bits < MIN_RSA_BITS) {
    throw new KeyFileError(
      `BENDER_JWT_KEY: an RSA key needs at least ${MIN_RSA_BITS} bits, this one has ${bits}`,
    )
  }
  const alg = type === 'rsa' ? 'RS256' : 'EdDSA'
  const publicKey = createPublicKey(privateKey)
  return {
    alg,
    sign(claims, header = {}) {
      // jose types kid as a string; Mender's integer kid is kept for byte-level parity of the header.
      const protectedHeader = { alg, ...(header.kid === undefined ? {} : { kid: header.kid }), typ: 'JWT' }
      return new SignJWT(claims).setProtectedHeader(protectedHeader as never).sign(privateKey)
    },
    async verify(token) {
      const { payload } = await jwtVerify(token, publicKey, { algorithms: [alg], currentDate: clock.now() })
      return payload as Claims
    },
  }
}
