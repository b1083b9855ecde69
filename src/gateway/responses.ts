/** Responses whose content type is not JSON: Mender answers tokens as `application/jwt`. */
export const jwtResponse = (token: string, status = 200): Response =>
  new Response(token, { status, headers: { 'content-type': 'application/jwt' } })

/** Mender's Location header for created resources: the collection path plus the new id. */
export function created(
  set: { status?: number | string; headers: Record<string, unknown> },
  location: string,
): string {
  set.status = 201
  set.headers.location = location
  return ''
}

/** Unix seconds (Mender's filter format) to a Date. */
export const fromUnix = (seconds: number | undefined): Date | undefined =>
  seconds === undefined ? undefined : new Date(seconds * 1000)
