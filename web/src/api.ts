/**
 * The console's only way to the server: bender's public management API, with the session token
 * sent as `Authorization: Bearer`. The token lives in sessionStorage (this tab only, gone when it
 * closes) and never in a URL or a cookie, so no other site can make the browser use it.
 */
const TOKEN_KEY = 'bender.session'
export const API = '/api/management'

export type Session = { token: string; email: string; expiresAt: number | undefined }

/** An API failure as a sentence a person can act on, with the request id to quote. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly requestId: string | undefined,
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

const listeners = new Set<() => void>()
let session: Session | undefined = restore()
let signedOutReason: string | undefined
let expiryTimer: ReturnType<typeof setTimeout> | undefined

function restore(): Session | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) ?? 'null') as Session | null
    return saved && (!saved.expiresAt || saved.expiresAt > Date.now()) ? saved : undefined
  } catch {
    return undefined
  }
}

function changed(): void {
  clearTimeout(expiryTimer)
  if (session?.expiresAt) {
    // setTimeout's limit is ~24.8 days; a longer session is checked again then.
    const wait = Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1)
    expiryTimer = setTimeout(() => {
      if (session?.expiresAt && session.expiresAt <= Date.now()) end('Your session expired: sign in again.')
      else changed()
    }, wait)
  }
  for (const listener of listeners) listener()
}

function end(reason: string | undefined): void {
  session = undefined
  signedOutReason = reason
  sessionStorage.removeItem(TOKEN_KEY)
  changed()
}

export const currentSession = () => session
/** Why the last session ended, when it was not the person's own choice. */
export const signOutReason = () => signedOutReason

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function tokenExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')))
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined
  } catch {
    return undefined
  }
}

function sentence(text: string): string {
  const trimmed = text.trim() || 'the request failed'
  const capital = trimmed[0]!.toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

async function failure(response: Response): Promise<ApiError> {
  const requestId = response.headers.get('x-men-requestid') ?? undefined
  let message = `The server answered ${response.status} ${response.statusText}`
  try {
    const body = (await response.json()) as { error?: string }
    if (body.error) message = body.error
  } catch {}
  const retry = Number(response.headers.get('retry-after'))
  return new ApiError(
    sentence(message),
    response.status,
    requestId,
    Number.isFinite(retry) ? retry : undefined,
  )
}

export type Reply<T> = { data: T; headers: Headers; status: number }

/** `blob`: the answer is a file, read as a Blob whatever its type. */
type Options = { body?: unknown; headers?: Record<string, string>; raw?: BodyInit; blob?: boolean }

/** One API call; a 401 on a signed-in session ends it (expired or revoked token). */
export async function call<T = unknown>(
  method: string,
  path: string,
  options: Options = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers }
  if (session) headers.authorization = `Bearer ${session.token}`
  let body = options.raw
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const response = await fetch(path.startsWith('/') ? path : `${API}/${path}`, { method, headers, body })
  if (!response.ok) {
    const error = await failure(response)
    if (response.status === 401 && session)
      end('Your session ended (expired or signed out elsewhere): sign in again.')
    throw error
  }
  const type = response.headers.get('content-type') ?? ''
  const data = (
    options.blob
      ? await response.blob()
      : type.includes('json')
        ? await response.json()
        : await response.text()
  ) as T
  return { data, headers: response.headers, status: response.status }
}

export const get = async <T>(path: string) => (await call<T>('GET', path)).data

export async function signIn(email: string, password: string): Promise<void> {
  const response = await fetch(`${API}/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${email}:${password}`)}` },
  })
  if (!response.ok) {
    const error = await failure(response)
    if (response.status === 401) throw new ApiError('The email or password is wrong.', 401, error.requestId)
    if (response.status === 429) {
      const wait = error.retryAfter ?? 1
      throw new ApiError(
        `Too many failed sign-ins for this email: wait ${wait} second${wait === 1 ? '' : 's'} and try again.`,
        429,
        error.requestId,
        wait,
      )
    }
    throw error
  }
  const token = await response.text()
  session = { token, email, expiresAt: tokenExpiry(token) }
  signedOutReason = undefined
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session))
  changed()
}

export async function signOut(): Promise<void> {
  try {
    await call('POST', 'v1/useradm/auth/logout')
  } finally {
    end(undefined)
  }
}
