import { createHmac } from 'node:crypto'
import type { DueDelivery } from './store.ts'

/** Mender's names for the signature headers and their algorithm. */
export const ALGORITHM_HEADER = 'X-Men-Algorithm'
export const SIGNATURE_HEADER = 'X-Men-Signature'
export const ALGORITHM = 'MEN-HMAC-SHA256-Payload'
/** What is read of a receiver's answer at most: its status is what counts. */
const MAX_RESPONSE_BYTES = 64 * 1024

export type PostResult = { ok: boolean; statusCode: number | null; error?: string }

/** The request body, as Mender's iot-manager sends it: `{id, type, data, time}`. */
export const webhookBody = (event: DueDelivery['event']): string =>
  JSON.stringify({ id: event.id, type: event.type, data: event.data, time: event.time.toISOString() })

/** hex(HMAC-SHA256(body)) keyed with the bytes the hex secret stands for, as Mender signs. */
export const signBody = (body: string, secretHex: string): string =>
  createHmac('sha256', Buffer.from(secretHex, 'hex')).update(body).digest('hex')

/** Reads and drops at most MAX_RESPONSE_BYTES of the answer, so a receiver cannot make us hold more. */
async function discard(response: Response): Promise<void> {
  const reader = response.body?.getReader()
  if (!reader) return
  let read = 0
  try {
    while (read <= MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
}

/**
 * POSTs the body: 2xx is delivered; anything else (a redirect, which is never followed, included),
 * a timeout or a connection failure is not. `abort` ends it early (the server stopping).
 */
export async function postWebhook(
  url: string,
  secret: string | null,
  body: string,
  options: { timeoutMs: number; abort: AbortSignal },
): Promise<PostResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'bender-webhooks',
  }
  if (secret) {
    headers[ALGORITHM_HEADER] = ALGORITHM
    headers[SIGNATURE_HEADER] = signBody(body, secret)
  }
  const signal = AbortSignal.any([options.abort, AbortSignal.timeout(options.timeoutMs)])
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal })
    await discard(response)
    if (response.status >= 200 && response.status < 300) return { ok: true, statusCode: response.status }
    return { ok: false, statusCode: response.status, error: `the receiver answered ${response.status}` }
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === 'TimeoutError'
    return {
      ok: false,
      statusCode: null,
      error: timedOut ? 'no answer in time' : `request failed: ${(err as Error).message}`,
    }
  }
}
