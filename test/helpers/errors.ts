import { expect } from 'bun:test'

/** A Mender error answer: the status, and a body of `error` (containing `text`, when given) and `request_id`. */
export function expectMenderError(res: { status: number; json: any }, status: number, text?: string): void {
  expect(res.status).toBe(status)
  expect(typeof res.json.error).toBe('string')
  expect(typeof res.json.request_id).toBe('string')
  if (text) expect(res.json.error).toContain(text)
}
