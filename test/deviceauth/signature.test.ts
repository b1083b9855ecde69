import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PublicKeyError, parsePublicKey, verifySignature } from '../../src/services/deviceauth/signature.ts'

// Device keys (RSA among them) are generated as the tests run, which a loaded machine slows down.
setDefaultTimeout(30_000)

const BODY = Buffer.from(
  '{"id_data":"{\\"mac\\":\\"00:11:22:33:44:55\\"}","tenant_token":"","pubkey":"..."}\n',
)

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject }

const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string

/** Signs the way a Mender device does for its key type. */
function deviceSign(pair: KeyPair, data: Uint8Array): string {
  const digest = pair.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  return sign(digest, data, pair.privateKey).toString('base64')
}

const keyTypes: [string, () => KeyPair][] = [
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['RSA 3072', () => generateKeyPairSync('rsa', { modulusLength: 3072 })],
  ['RSA 4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 })],
  ['ECDSA P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
  ['ECDSA P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
  ['Ed25519', () => generateKeyPairSync('ed25519')],
]

describe.each(keyTypes)('%s', (_name, generate) => {
  const pair = generate()
  const other = generate()
  const key = parsePublicKey(pem(pair.publicKey))
  const signature = deviceSign(pair, BODY)

  test('a signature over the exact body verifies', () => {
    expect(verifySignature(key, signature, BODY)).toBe(true)
  })

  test('another key, a tampered body or a body without its trailing newline do not', () => {
    expect(verifySignature(parsePublicKey(pem(other.publicKey)), signature, BODY)).toBe(false)
    const tampered = Buffer.from(BODY)
    tampered[10] = tampered[10]! ^ 1
    expect(verifySignature(key, signature, tampered)).toBe(false)
    expect(verifySignature(key, signature, BODY.subarray(0, BODY.length - 1))).toBe(false)
  })

  test('a signature that is not base64 fails', () => {
    expect(verifySignature(key, `${signature}!`, BODY)).toBe(false)
    expect(verifySignature(key, '', BODY)).toBe(false)
    expect(verifySignature(key, 'AAAA', BODY)).toBe(false)
  })

  test('line breaks inside the base64 are ignored, as by Go', () => {
    const wrapped = signature.replace(/(.{40})/g, '$1\r\n')
    expect(verifySignature(key, wrapped, BODY)).toBe(true)
  })

  test('the key is kept as canonical PKIX PEM whatever its original line layout', () => {
    const der = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    const reflowed = `-----BEGIN PUBLIC KEY-----\r\n${der.replace(/(.{76})/g, '$1\r\n')}\r\n-----END PUBLIC KEY-----`
    expect(parsePublicKey(reflowed).pem).toBe(pem(pair.publicKey))
    expect(key.pem).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PUBLIC KEY-----\n$/,
    )
  })
})

describe('signature base64', () => {
  const pair = generateKeyPairSync('ed25519')
  const key = parsePublicKey(pem(pair.publicKey))
  // An Ed25519 signature is 64 bytes, so its base64 always ends in `==`; pick a body whose signature uses `+` or `/`.
  let body = BODY
  for (let i = 0; !/[+/]/.test(deviceSign(pair, body)); i++)
    body = Buffer.concat([BODY, Buffer.from(String(i))])
  const signature = deviceSign(pair, body)

  test('must be padded standard base64, as Go decodes it', () => {
    expect(verifySignature(key, signature, body)).toBe(true)
    expect(verifySignature(key, signature.replace(/=+$/, ''), body)).toBe(false)
    expect(verifySignature(key, Buffer.from(signature, 'base64').toString('base64url'), body)).toBe(false)
  })
})

describe('ECDSA signature encoding', () => {
  test('the raw r||s form is refused: Mender devices send ASN.1 DER', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const raw = sign('sha256', BODY, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64')
    expect(verifySignature(parsePublicKey(pem(pair.publicKey)), raw, BODY)).toBe(false)
  })

  test('P-384 and P-521 signatures are over SHA-256, as Mender checks them', () => {
    for (const namedCurve of ['P-384', 'P-521']) {
      const pair = generateKeyPairSync('ec', { namedCurve })
      const key = parsePublicKey(pem(pair.publicKey))
      expect(verifySignature(key, sign('sha256', BODY, pair.privateKey).toString('base64'), BODY)).toBe(true)
      expect(verifySignature(key, sign('sha384', BODY, pair.privateKey).toString('base64'), BODY)).toBe(false)
    }
  })

  test('signatures made by the openssl command line verify (what devices built on OpenSSL produce)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bender-sig-'))
    try {
      for (const [algorithm, options] of [
        ['EC', ['-pkeyopt', 'ec_paramgen_curve:P-384']],
        ['RSA', ['-pkeyopt', 'rsa_keygen_bits:3072']],
        ['ED25519', []],
      ] as const) {
        const keyFile = join(dir, `${algorithm}.pem`)
        const bodyFile = join(dir, 'body')
        writeFileSync(bodyFile, BODY)
        const run = (args: string[]) => {
          const result = Bun.spawnSync(['openssl', ...args], { timeout: 30_000 })
          if (result.exitCode !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr.toString()}`)
          return result.stdout
        }
        run(['genpkey', '-algorithm', algorithm, ...options, '-out', keyFile])
        const publicPem = run(['pkey', '-in', keyFile, '-pubout']).toString()
        const signArgs =
          algorithm === 'ED25519'
            ? ['pkeyutl', '-sign', '-rawin', '-inkey', keyFile, '-in', bodyFile]
            : ['dgst', '-sha256', '-sign', keyFile, bodyFile]
        const signature = run(signArgs).toString('base64')
        expect(verifySignature(parsePublicKey(publicPem), signature, BODY)).toBe(true)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('public keys that are refused', () => {
  const refused = (text: string) => {
    try {
      parsePublicKey(text)
    } catch (err) {
      expect(err).toBeInstanceOf(PublicKeyError)
      return (err as Error).message
    }
    throw new Error('the key was accepted')
  }

  test('RSA below 2048 or above 4096 bits', () => {
    expect(refused(pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey))).toContain(
      '2048 to 4096',
    )
    expect(refused(pem(generateKeyPairSync('rsa', { modulusLength: 4608 }).publicKey))).toContain('got 4608')
  })

  /** A public key from the openssl command line, for algorithms Bun cannot generate. */
  const opensslPublicKey = (args: string[]) => {
    const key = Bun.spawnSync(['openssl', 'genpkey', ...args], { timeout: 30_000 })
    const pub = Bun.spawnSync(['openssl', 'pkey', '-pubout'], { stdin: key.stdout, timeout: 30_000 })
    if (key.exitCode !== 0 || pub.exitCode !== 0) throw new Error(`openssl genpkey ${args.join(' ')} failed`)
    return pub.stdout.toString()
  }

  test('curves other than P-256, P-384 and P-521', () => {
    expect(refused(opensslPublicKey(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-224']))).toContain(
      'unsupported elliptic curve',
    )
    expect(
      refused(opensslPublicKey(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'])),
    ).toContain('cannot decode public key')
  })

  test('other algorithms', () => {
    expect(refused(pem(generateKeyPairSync('x25519').publicKey))).toBe('unrecognized public key type')
    for (const algorithm of ['ED448', 'RSA-PSS']) {
      expect(refused(opensslPublicKey(['-algorithm', algorithm]))).toContain('cannot decode public key')
    }
  })

  test('PEM that is not a PKIX `PUBLIC KEY` block, or broken', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string
    expect(refused(pkcs1)).toBe('cannot decode public key')
    expect(refused(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)).toBe(
      'cannot decode public key',
    )
    expect(refused('not a key')).toBe('cannot decode public key')
    expect(refused(pem(rsa.publicKey).replace('M', '!'))).toBe('cannot decode public key')
    expect(refused('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')).toContain('not a PKIX')
  })

  test('a compressed EC point, which Go cannot read', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const der = publicKey.export({ type: 'spki', format: 'der' })
    const point = der.subarray(der.length - 65)
    const compressed = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.from([2 + (point[64]! & 1)]),
      point.subarray(1, 33),
    ])
    const text = `-----BEGIN PUBLIC KEY-----\n${compressed.toString('base64')}\n-----END PUBLIC KEY-----\n`
    expect(refused(text)).toContain('non-canonical')
  })

  test('text before the PEM block is skipped, as by Go', () => {
    const { publicKey } = generateKeyPairSync('ed25519')
    expect(parsePublicKey(`comment line\n${pem(publicKey)}`).pem).toBe(pem(publicKey))
  })
})
