import { ArtifactError, ArtifactTooLargeError } from '../artifact/errors.ts'
import { REQUEST_ID_HEADER } from './request-id.ts'

/** A failure whose message is safe to send: rendered as Mender's `{"error", "request_id"}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra top-level fields of the error body (e.g. an artifact conflict's `metadata`). */
    readonly extra?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(400, message, extra)
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message = 'unauthorized', realm = 'ManagementJWT') {
    super(401, message, undefined, { 'www-authenticate': `Bearer realm="${realm}"` })
  }
}

export class ForbiddenError extends ApiError {
  constructor(message = 'forbidden') {
    super(403, message)
  }
}

export class NotFoundError extends ApiError {
  constructor(message = 'not found') {
    super(404, message)
  }
}

export class ConflictError extends ApiError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(409, message, extra)
  }
}

export class PreconditionFailedError extends ApiError {
  constructor(message: string) {
    super(412, message)
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(message = 'request body too large') {
    super(413, message)
  }
}

/** An artifact over `BENDER_MAX_ARTIFACT_SIZE`, in Mender's words, wherever it is noticed. */
export const artifactTooLarge = () => new PayloadTooLargeError(new ArtifactTooLargeError().message)

/**
 * A thrown value as the API answers it: ApiErrors as they are, the errors of modules that know
 * nothing of HTTP (the .mender format) by their kind; undefined for anything else (a 500).
 */
export function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err
  if (err instanceof ArtifactError) return new BadRequestError(err.message)
  if (err instanceof ArtifactTooLargeError) return new PayloadTooLargeError(err.message)
  return undefined
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(message: string) {
    super(415, message)
  }
}

export class UnprocessableError extends ApiError {
  constructor(message: string, extra?: Record<string, unknown>) {
    super(422, message, extra)
  }
}

/**
 * A refusal that also means something is wrong on the server side (data the database refers to is
 * gone): the client gets the status, and the gateway logs it at error level for the operator.
 */
export class ServerStateError extends ApiError {
  constructor(
    status: number,
    message: string,
    readonly logFields: Record<string, unknown>,
  ) {
    super(status, message)
  }
}

export class TooManyRequestsError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, undefined, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) })
  }
}

export function errorResponse(
  status: number,
  message: string,
  requestId: string | undefined,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): Response {
  const body: Record<string, unknown> = { error: message, ...extra }
  if (requestId) body.request_id = requestId
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-content-type-options': 'nosniff',
      ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}),
      ...headers,
    },
  })
}
