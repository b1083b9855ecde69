import { describe, expect, test } from 'bun:test'
import { type Authenticator, bearerToken, createAuthResolver, TokenCache } from '../../src/gateway/auth.ts'
import { UnauthorizedError } from '../../src/gateway/errors.ts'

const req = (headers: Record<string, string>) => new Request('http://localhost/', { headers })

describe('bearerToken', () => {
  test.each([
    [{ authorization: 'Bearer abc' }, 'abc'],
    [{ authorization: 'bEaReR abc' }, 'abc'],
    [{ authorization: 'Bearer' }, undefined],
    [{ authorization: 'Bearer a b' }, undefined],
    [{ authorization: 'Basic abc' }, undefined],
    [{ cookie: 'x=1; JWT=tok.en=' }, 'tok.en='],
    [{ authorization: 'Basic x', cookie: 'JWT=tok' }, undefined],
    [{}, undefined],
  ])('%j → %p', (headers, expected) => {
    expect(bearerToken(req(headers))).toBe(expected)
  })
})

describe('TokenCache', () => {
  test('evicts the oldest entry when full and drops expired entries', () => {
    const cache = new TokenCache<string>(2)
    cache.set('a', { principal: 'A', expiresAt: 100 })
    cache.set('b', { principal: 'B', expiresAt: undefined })
    cache.set('c', { principal: 'C', expiresAt: undefined })
    expect(cache.get('a', 0)).toBeUndefined()
    expect(cache.get('b', 0)).toBe('B')
    cache.set('d', { principal: 'D', expiresAt: 50 })
    expect(cache.get('d', 49)).toBe('D')
    expect(cache.get('d', 50)).toBeUndefined()
    expect(cache.size).toBe(1)
  })
})

describe('createAuthResolver', () => {
  test('verifies once, checks liveness on every call, refuses revoked and failing tokens', async () => {
    let verifications = 0
    let live = true
    const authenticator: Authenticator<string> = {
      async verify(token) {
        verifications++
        if (token === 'bad') throw new Error('bad signature')
        return { principal: `p:${token}`, expiresAt: 1000 }
      },
      isLive: () => live,
    }
    let now = 0
    const resolver = createAuthResolver(authenticator, 'R', 10, () => now)
    expect(await resolver.resolve('good')).toBe('p:good')
    expect(resolver.resolve('good')).toBe('p:good') // synchronous once cached
    expect(verifications).toBe(1)
    live = false
    expect(() => resolver.resolve('good')).toThrow(UnauthorizedError)
    live = true
    now = 1000
    expect(await resolver.resolve('good')).toBe('p:good')
    expect(verifications).toBe(2)
    await expect(resolver.resolve('bad')).rejects.toBeInstanceOf(UnauthorizedError)
    expect(() => resolver.resolve(undefined)).toThrow(UnauthorizedError)
  })
})
