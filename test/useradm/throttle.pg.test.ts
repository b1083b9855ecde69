import { expect, test } from 'bun:test'
import { openPgDatabase } from '../../db/pg.ts'
import { TooManyRequestsError } from '../../src/gateway/errors.ts'
import { createPgThrottleStore } from '../../src/services/useradm/throttle.pg.ts'
import { createLoginThrottle } from '../../src/services/useradm/throttle.ts'
import { openTestPgDatabase } from '../helpers/database.ts'
import { throttleStoreContract } from './throttle.contract.ts'

throttleStoreContract('PostgreSQL', async () => {
  const { db, close } = await openTestPgDatabase()
  return { store: createPgThrottleStore(db), close }
})

test('failed logins are counted across two instances: guesses spread over both add up', async () => {
  const { db, url, close } = await openTestPgDatabase()
  const otherDb = await openPgDatabase(url)
  try {
    const now = () => Date.UTC(2026, 0, 1)
    const instances = [
      createLoginThrottle(now, createPgThrottleStore(db)),
      createLoginThrottle(now, createPgThrottleStore(otherDb)),
    ]
    let verified = 0
    const guess = () => {
      verified++
      return Promise.resolve(false)
    }
    // Forty concurrent guesses, alternating between the instances: five are checked in all.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        instances[i % 2]!.attempt('victim@example.com', '192.0.2.7', guess),
      ),
    )
    expect(verified).toBe(5)
    const refused = outcomes.filter(
      (o) => o.status === 'rejected' && o.reason instanceof TooManyRequestsError,
    )
    expect(refused).toHaveLength(35)
    // The real user, from their own address on the other instance, is not locked out.
    expect(
      await instances[1]!.attempt('victim@example.com', '198.51.100.1', () => Promise.resolve(true)),
    ).toBe(true)
  } finally {
    await otherDb.$client.close()
    await close()
  }
})
