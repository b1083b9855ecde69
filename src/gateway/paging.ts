import { t } from 'elysia'
import { BadRequestError } from './errors.ts'

export type Paging = { page: number; perPage: number }

/** Query fields shared by every paged list (for validation and the published OpenAPI). */
export const pagingQuery = {
  page: t.Optional(t.Numeric({ description: 'Page number, from 1.', default: 1 })),
  per_page: t.Optional(t.Numeric({ description: 'Results per page (max 500).', default: 20 })),
}

/** Pages beyond this are refused: a larger offset would overflow the database's integers. */
export const MAX_PAGE = 1_000_000_000

type PagingInput = { page?: number | string; per_page?: number | string }
type PagingOptions = { defaultPerPage?: number; maxPerPage?: number; lenient?: boolean }

/**
 * Mender's page/per_page rules: defaults 1 and 20, per_page above the limit (500) or anything below 1
 * is a 400. `lenient` endpoints (artifacts/list, releases/list) fall back to the defaults instead.
 */
export function parsePaging(query: PagingInput, options: PagingOptions = {}): Paging {
  const { defaultPerPage = 20, maxPerPage = 500, lenient = false } = options
  const read = (name: 'page' | 'per_page', fallback: number): number => {
    const raw = query[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE) {
      if (lenient) return fallback
      throw new BadRequestError(`invalid ${name} query: "${raw}"`)
    }
    return value
  }
  const page = read('page', 1)
  let perPage = read('per_page', defaultPerPage)
  if (perPage > maxPerPage) {
    if (!lenient) throw new BadRequestError(`parameter "per_page" above limit (max: ${maxPerPage})`)
    perPage = defaultPerPage
  }
  return { page, perPage }
}

/** Clamped to a safe integer: a page far past the end is an empty page, not an offset SQLite cannot take. */
export const pageOffset = ({ page, perPage }: Paging): number =>
  Math.min((page - 1) * perPage, Number.MAX_SAFE_INTEGER)

/** Go's url.Values.Encode: keys sorted, values in their original order. */
function encodeSorted(params: URLSearchParams): string {
  const keys = [...new Set(params.keys())].sort()
  const parts: string[] = []
  for (const key of keys) {
    for (const value of params.getAll(key)) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    }
  }
  return parts.join('&')
}

/**
 * The `Link` header: first, prev (after page 1), next (when a later page exists or the caller
 * knows there is more), last (when the total is known). One header, relations comma-separated.
 */
export function pageLinks(
  requestUrl: string,
  paging: Paging,
  more: { total?: number; hasNext?: boolean },
): string {
  const url = new URL(requestUrl)
  const link = (page: number, rel: string) => {
    const params = new URLSearchParams(url.search)
    params.set('page', String(page))
    params.set('per_page', String(paging.perPage))
    return `<${url.pathname}?${encodeSorted(params)}>; rel="${rel}"`
  }
  const links = [link(1, 'first')]
  if (paging.page > 1) links.push(link(paging.page - 1, 'prev'))
  const lastPage = more.total === undefined ? undefined : Math.max(1, Math.ceil(more.total / paging.perPage))
  if ((lastPage !== undefined && paging.page < lastPage) || more.hasNext)
    links.push(link(paging.page + 1, 'next'))
  if (lastPage !== undefined) links.push(link(lastPage, 'last'))
  return links.join(', ')
}

type HeaderSink = { headers: Record<string, unknown> }

/** Sets `Link` and, where Mender sends it, `X-Total-Count`. */
export function setPageHeaders(
  set: HeaderSink,
  requestUrl: string,
  paging: Paging,
  more: { total?: number; hasNext?: boolean; totalHeader?: boolean },
): void {
  set.headers.link = pageLinks(requestUrl, paging, more)
  if (more.totalHeader !== false && more.total !== undefined)
    set.headers['x-total-count'] = String(more.total)
}
