import { describe, expect, test } from 'bun:test'
import { failureGateReason } from '../../src/services/deployments/policy.ts'

describe('failure gate reason', () => {
  test('counts read as English: one failure, two failures, one finished device', () => {
    const limit = { failure_gate: { max_failures: 1 } }
    expect(failureGateReason(limit, { size: 3, finished: 1, failed: 1, succeeded: 0 })).toBe(
      'failure gate: 1 failure reached the limit of 1',
    )
    expect(failureGateReason(limit, { size: 3, finished: 2, failed: 2, succeeded: 0 })).toBe(
      'failure gate: 2 failures reached the limit of 1',
    )
    const share = { failure_gate: { percent: 50 } }
    expect(failureGateReason(share, { size: 3, finished: 1, failed: 1, succeeded: 0 })).toBe(
      'failure gate: 1 of 1 finished device failed (100% >= 50%)',
    )
    expect(failureGateReason(share, { size: 3, finished: 3, failed: 2, succeeded: 1 })).toBe(
      'failure gate: 2 of 3 finished devices failed (67% >= 50%)',
    )
  })
})
