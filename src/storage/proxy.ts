import type { Deps } from '../deps.ts'
import {
  ApiError,
  artifactTooLarge,
  ConflictError,
  errorResponse,
  ForbiddenError,
  NotFoundError,
} from '../gateway/errors.ts'
import { REQUEST_ID_HEADER, requestIdFor } from '../gateway/request-id.ts'
import {
  ARTIFACT_CONTENT_TYPE,
  attachmentDisposition,
  BlobExistsError,
  type ByteRange,
  RangeNotSatisfiableError,
  resolveRange,
} from './blobs.ts'
import { InvalidLinkError, LINK_PATH_PREFIX, type VerifiedLink } from './links.ts'
import { createDownloadGate, downloadsCapped } from './throttle.ts'

export type StorageProxy = (request: Request) => Promise<Response>

type ProxyDeps = Pick<Deps, 'config' | 'blobs' | 'links' | 'log'>

/**
 * Any origin may use a link: the signature in it is the whole authorization (no cookie, no
 * header), so this only lets the console on the API's port upload and read with fetch/XHR.
 */
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': REQUEST_ID_HEADER }
const CORS_PREFLIGHT = {
  ...CORS,
  'access-control-allow-methods': 'GET, HEAD, PUT',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600',
}

/** Whether the upload a signed PUT link was made for is still waiting for its bytes. */
export type UploadGate = { acceptsUpload(key: string): Promise<boolean> }

const RANGE = /^bytes=(\d*)-(\d*)$/

/**
 * One `bytes=` range; anything else (other units, several ranges, a malformed or reversed one) is
 * undefined, which RFC 9110 lets a server answer with the whole object.
 */
export function parseRange(header: string | null): ByteRange | undefined {
  const match = header ? RANGE.exec(header.trim()) : null
  if (!match) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  const start = Number(first)
  const end = Number(last)
  if (first === '') return Number.isSafeInteger(end) ? { suffix: end } : undefined
  if (!Number.isSafeInteger(start)) return undefined
  if (last === '') return { start }
  return Number.isSafeInteger(end) && end >= start ? { start, end } : undefined
}

/** Passes bytes through until more than `max` have gone by, then fails the stream. */
function limitTo(max: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength
      if (seen > max) controller.error(artifactTooLarge())
      else controller.enqueue(chunk)
    },
  })
}

/**
 * The storage proxy on its own port: serves only links the API signed (GET/HEAD downloads with
 * Range, PUT direct uploads) and streams bytes between the client and the blob store.
 *
 * A plain fetch handler rather than an Elysia app: there is one path shape, no JSON and no
 * schema, and the hot path is a header check plus a stream hand-off that a framework's lifecycle
 * and body parsing (which must stay off for streaming PUTs) would only slow down.
 */
export function createStorageProxy(deps: ProxyDeps, uploads?: UploadGate): StorageProxy {
  // Long as a whole: one closure over the state its methods share; each method is short.
  const { blobs, links, config, log } = deps
  const gate = downloadsCapped(config) ? createDownloadGate(config) : undefined
  /** Keys with a PUT in progress: one writer per link, so concurrent PUTs cannot each fill a temp file. */
  const writing = new Set<string>()

  function headersFor(link: VerifiedLink, requestId: string, extra: Record<string, string>) {
    return {
      'content-type': ARTIFACT_CONTENT_TYPE,
      'content-disposition': attachmentDisposition(link.key, link.filename),
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      [REQUEST_ID_HEADER]: requestId,
      ...extra,
    }
  }

  function unsatisfiable(size: number): ApiError {
    return new ApiError(416, 'range not satisfiable', undefined, { 'content-range': `bytes */${size}` })
  }

  async function head(link: VerifiedLink, range: ByteRange | undefined, requestId: string) {
    const info = await blobs.stat(link.key)
    if (!info) throw new NotFoundError()
    const span = range ? resolveRange(range, info.size) : { start: 0, end: info.size - 1 }
    if (!span) throw unsatisfiable(info.size)
    return new Response(null, {
      status: range ? 206 : 200,
      headers: headersFor(link, requestId, {
        'content-length': String(span.end - span.start + 1),
        ...(range ? { 'content-range': `bytes ${span.start}-${span.end}/${info.size}` } : {}),
      }),
    })
  }

  async function download(link: VerifiedLink, range: ByteRange | undefined, requestId: string) {
    let content: Awaited<ReturnType<typeof blobs.get>>
    try {
      content = await blobs.get(link.key, range)
    } catch (err) {
      if (err instanceof RangeNotSatisfiableError) throw unsatisfiable(err.size)
      throw err
    }
    if (!content) throw new NotFoundError()
    const { size, start, end } = content
    const body = gate ? gate.admit(content.body, end - start + 1) : content.body
    // The explicit Content-Length keeps a streamed (S3) body from going out chunked: the mender
    // client refuses a download without a length.
    return new Response(body, {
      status: range ? 206 : 200,
      headers: headersFor(link, requestId, {
        'content-length': String(end - start + 1),
        ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
      }),
    })
  }

  async function upload(link: VerifiedLink, request: Request, requestId: string) {
    const declared = request.headers.get('content-length')
    if (declared !== null && Number(declared) > config.maxArtifactSize) throw artifactTooLarge()
    // An upload link lives for an hour: a put never replaces an object, so a leaked link cannot
    // replace an artifact that was already uploaded and checked. The stat answers the common case
    // before any byte is read; the put itself settles two uploads racing on one link.
    // A link whose upload was completed, dropped or deleted takes nothing more: its bytes would be an orphan.
    if (uploads && !(await uploads.acceptsUpload(link.key)))
      throw new NotFoundError('no upload is pending for this link')
    const exists = () => new ConflictError('the object already exists')
    if (writing.has(link.key)) throw new ConflictError('an upload to this link is in progress')
    if (await blobs.stat(link.key)) throw exists()
    const body = (request.body ?? new Blob([]).stream()).pipeThrough(limitTo(config.maxArtifactSize))
    writing.add(link.key)
    try {
      await blobs.put(link.key, body)
    } catch (err) {
      if (err instanceof BlobExistsError) throw exists()
      if (err instanceof ApiError || !request.signal.aborted) throw err
      log.info('direct upload interrupted by the client', { request_id: requestId, key: link.key })
      throw new ApiError(400, 'upload interrupted')
    } finally {
      writing.delete(link.key)
    }
    return new Response(null, { status: 200, headers: { [REQUEST_ID_HEADER]: requestId } })
  }

  async function handle(request: Request, requestId: string): Promise<Response> {
    const url = new URL(request.url)
    if (!url.pathname.startsWith(LINK_PATH_PREFIX)) throw new NotFoundError()
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') {
      throw new ApiError(405, 'method not allowed', undefined, { allow: 'GET, HEAD, PUT' })
    }
    let link: VerifiedLink
    try {
      link = links.verify(method === 'PUT' ? 'PUT' : 'GET', url)
    } catch (err) {
      if (err instanceof InvalidLinkError) throw new ForbiddenError(err.message)
      throw err
    }
    if (method === 'PUT') return upload(link, request, requestId)
    const range = parseRange(request.headers.get('range'))
    return method === 'HEAD' ? head(link, range, requestId) : download(link, range, requestId)
  }

  async function answer(request: Request, requestId: string): Promise<Response> {
    try {
      return await handle(request, requestId)
    } catch (err) {
      if (err instanceof ApiError) {
        return errorResponse(err.status, err.message, requestId, err.extra, err.headers)
      }
      log.error('storage proxy request failed', { request_id: requestId, error: err })
      return errorResponse(500, 'internal error', requestId)
    }
  }

  return async (request) => {
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_PREFLIGHT })
    const response = await answer(request, requestIdFor(request))
    for (const [name, value] of Object.entries(CORS)) response.headers.set(name, value)
    return response
  }
}
