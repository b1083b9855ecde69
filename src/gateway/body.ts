import { Elysia } from 'elysia'
import { ApiError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.ts'

/**
 * Transfers (the storage proxy; artifact uploads on the API port, which extend their own request's
 * timeout) may stall for a while behind a slow disk or S3: they get Bun's longest idle timeout.
 * Everything else on the API port gets BENDER_IDLE_TIMEOUT.
 */
export const TRANSFER_IDLE_TIMEOUT_SECONDS = 255

/** Mender's default request body limit for everything but artifact uploads. */
const JSON_BODY_LIMIT = 1024 * 1024

/** A body left unread for a streaming handler (artifact uploads); routes that want JSON reject it. */
export class StreamedBody {
  constructor(readonly stream: ReadableStream<Uint8Array> | null) {}
}

const STREAMED_TYPES = ['multipart/form-data', 'multipart/mixed', 'application/octet-stream']

/** A body kept as its exact bytes, unparsed, for a handler that checks a signature over them. */
export class RawBody {
  constructor(readonly bytes: Uint8Array) {}
}

/** The name routes give to `parse` to receive a RawBody: `{ parse: RAW_BODY_PARSER }`. */
export const RAW_BODY_PARSER = 'raw'

/** Reads a body's bytes, refusing more than `limit` whether or not a Content-Length was sent. */
async function readLimitedBytes(request: Request, limit: number, timeoutMs: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw new PayloadTooLargeError()
  if (!request.body) return new Uint8Array(0)
  const body = request.body
  const reading = (async () => {
    // A declared length is enforced by the server, so the body can be read in one native call;
    // iterating the stream costs ~15 µs a request, a fifth of a device poll.
    if (declared !== null) return request.bytes()
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of body) {
      size += chunk.byteLength
      if (size > limit) throw new PayloadTooLargeError()
      chunks.push(chunk)
    }
    return Buffer.concat(chunks)
  })()
  // A body sent a byte at a time keeps a connection busy forever without ever going idle.
  let timer: Timer | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError(408, 'request body not received in time')), timeoutMs)
  })
  try {
    return await Promise.race([reading, late])
  } catch (err) {
    reading.catch(() => undefined)
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Reads a body to text, refusing more than `limit` bytes whether or not a Content-Length was sent. */
async function readLimitedText(request: Request, limit: number, timeoutMs: number): Promise<string> {
  return Buffer.from(await readLimitedBytes(request, limit, timeoutMs)).toString('utf8')
}

/**
 * Deepest nesting a JSON body may have. Validation, storage and rendering all recurse over a body;
 * no request of the API nests more than a few levels.
 */
const MAX_JSON_DEPTH = 100

/** Whether `value` nests objects or arrays more than `max` deep; iterative, so any depth is safe to check. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [node, depth] = item
    if (typeof node !== 'object' || node === null) continue
    if (depth > max) return true
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return false
}

const isJsonType = (type: string) => type === 'application/json' || type.endsWith('+json')

/**
 * The one route that takes a form as well as JSON, as in Mender. It only reads: a form a browser
 * posts from another site carries no credentials here (the JWT cookie is for GET requests only).
 */
const FORM_ROUTES = new Set(['/api/management/v2/devauth/devices/search'])

/**
 * The content-type rule for JSON routes: a body of another declared type is a 415. Mender skips the
 * check for chunked bodies; bender checks them too, since a browser can send any site a chunked
 * `text/plain` or form body (Mender's clients label their chunked JSON as JSON).
 */
function checkContentType(request: Request, type: string, formToo: boolean): void {
  const allowed = isJsonType(type) || (formToo && type === 'application/x-www-form-urlencoded')
  if (request.headers.get('content-length') !== '0' && type !== '' && !allowed) {
    throw new UnsupportedMediaTypeError("Bad Content-Type, expected 'application/json'")
  }
}

/**
 * The body parser every route shares. JSON is read with a 1 MiB cap (chunked bodies included: the
 * Go clients send them), any other declared type is a 415, a urlencoded form is accepted only on
 * FORM_ROUTES, and multipart bodies stay
 * unread for the streaming upload handlers. A route that declares `parse: RAW_BODY_PARSER` (or
 * STREAM_BODY_PARSER) is left to that parser: Elysia runs this global parser first, so it has to
 * step aside itself.
 */
/** Which routes parse their own bodies (the route index answers it from the routes' `parse`). */
type OwnParsers = { readsRawBody(method: string, path: string): boolean }

export const bodyParser = (routes: OwnParsers, bodyTimeoutMs: number) =>
  new Elysia({ name: 'gateway.body' }).onParse({ as: 'global' }, async ({ request, path }, contentType) => {
    if (routes.readsRawBody(request.method, path)) return undefined
    const type = contentType.toLowerCase()
    if (STREAMED_TYPES.includes(type)) return new StreamedBody(request.body)
    if (request.headers.get('content-length') === '0') return null
    checkContentType(request, type, FORM_ROUTES.has(path))
    const text = await readLimitedText(request, JSON_BODY_LIMIT, bodyTimeoutMs)
    if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text))
    if (text.trim() === '') return null
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw new BadRequestError(`failed to decode request body: ${(err as Error).message}`)
    }
    if (depthExceeds(value, MAX_JSON_DEPTH)) {
      throw new BadRequestError(`failed to decode request body: nested deeper than ${MAX_JSON_DEPTH} levels`)
    }
    return value
  })

/**
 * The parser for bodies that are verified, not just read (a device's signed auth request): the
 * exact bytes, trailing newline included, under the same size cap and JSON content-type rule.
 */
export const rawBodyParser = (bodyTimeoutMs: number) =>
  new Elysia({ name: 'gateway.raw-body' }).parser(RAW_BODY_PARSER, async ({ request }, contentType) => {
    checkContentType(request, contentType.toLowerCase(), false)
    return new RawBody(await readLimitedBytes(request, JSON_BODY_LIMIT, bodyTimeoutMs))
  })

/**
 * The name upload routes give to `parse` to receive every body as a StreamedBody, whatever its
 * content type, so that they check the type themselves (Mender answers 415) before anything is read.
 */
export const STREAM_BODY_PARSER = 'stream'

export const streamBodyParser = new Elysia({ name: 'gateway.stream-body' }).parser(
  STREAM_BODY_PARSER,
  ({ request }) => new StreamedBody(request.body),
)

/** The bytes a RAW_BODY_PARSER route received; none when the request had no body at all. */
export const rawBytes = (body: unknown): Uint8Array =>
  body instanceof RawBody ? body.bytes : new Uint8Array(0)
