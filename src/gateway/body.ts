import { Elysia } from 'elysia'
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts'

/** Mender's default request body limit for everything but artifact uploads. */
export const JSON_BODY_LIMIT = 1024 * 1024

/** A body left unread for a streaming handler (artifact uploads); routes that want JSON reject it. */
export class StreamedBody {
  constructor(readonly stream: ReadableStream<Uint8Array> | null) {}
}

const STREAMED_TYPES = ['multipart/form-data', 'multipart/mixed', 'application/octet-stream']

/** Reads a body to text, refusing more than `limit` bytes whether or not a Content-Length was sent. */
export async function readLimitedText(request: Request, limit: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw new PayloadTooLargeError()
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body) {
    size += chunk.byteLength
    if (size > limit) throw new PayloadTooLargeError()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The body parser every route shares. JSON is read with a 1 MiB cap (chunked bodies included: the
 * Go clients send them), the content-type check applies only when a length is declared (as in
 * Mender), urlencoded forms are accepted where Mender accepts them, and multipart bodies stay
 * unread for the streaming upload handlers.
 */
export const bodyParser = new Elysia({ name: 'gateway.body' }).onParse(
  { as: 'global' },
  async ({ request }, contentType) => {
    const type = contentType.toLowerCase()
    if (STREAMED_TYPES.includes(type)) return new StreamedBody(request.body)
    const declared = request.headers.get('content-length')
    if (declared === '0') return null
    const isJson = type === 'application/json' || type.endsWith('+json')
    const isForm = type === 'application/x-www-form-urlencoded'
    if (declared !== null && type !== '' && !isJson && !isForm) {
      throw new UnsupportedMediaTypeError("Bad Content-Type, expected 'application/json'")
    }
    const text = await readLimitedText(request, JSON_BODY_LIMIT)
    if (isForm) return Object.fromEntries(new URLSearchParams(text))
    if (text.trim() === '') return null
    try {
      return JSON.parse(text)
    } catch (err) {
      throw new BadRequestError(`failed to decode request body: ${(err as Error).message}`)
    }
  },
)
