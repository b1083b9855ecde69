import { BadRequestError } from '../../gateway/errors.ts'
import { type Paging, parsePaging } from '../../gateway/paging.ts'
import type { ArtifactFilter, ArtifactSort, TextMatch } from './store.ts'

/** Mender's list filters on artifacts and releases (v1): each value a case-insensitive substring. */
export type SubstringQuery = { name?: string; description?: string; device_type?: string }

export type PageQuery = { page?: string; per_page?: string }

const MAX_PER_PAGE = 500
const MAX_EXACT_NAMES = 100

const contains = (value: string | undefined): TextMatch | undefined =>
  value ? { containsAnyCase: value } : undefined

export function substringFilter(query: SubstringQuery): ArtifactFilter {
  return {
    name: contains(query.name),
    description: contains(query.description),
    deviceType: contains(query.device_type),
  }
}

/** Paging of the endpoints where Mender replaces a bad `page` or `per_page` with its default. */
export const lenientPaging = (query: PageQuery): Paging => parsePaging(query, { lenient: true })

/** `name:asc`, `modified:desc` ...; anything else is name ascending. */
export function parseArtifactSort(value: string | undefined): ArtifactSort {
  const [by, order] = (value ?? '').split(':')
  if (by !== 'name' && by !== 'modified') return { by: 'name', order: 'asc' }
  return { by, order: order === 'desc' ? 'desc' : 'asc' }
}

/** The v2 rule: a value ending in `*` is a prefix, `\*` at the end stands for a literal `*`. */
function exactOrPrefix(value: string): { exact: string } | { prefix: string } {
  if (value.endsWith('\\*')) return { exact: `${value.slice(0, -2)}*` }
  if (value.endsWith('*')) return { prefix: value.slice(0, -1) }
  return { exact: value }
}

function exactOrPrefixMatch(value: string | undefined): TextMatch | undefined {
  if (!value) return undefined
  const parsed = exactOrPrefix(value)
  return 'exact' in parsed ? { equals: parsed.exact } : { startsWithAnyCase: parsed.prefix }
}

export type V2Query = PageQuery & { name?: string[]; description?: string; device_type?: string }

/** The v2 artifact list's filter and paging (bad numbers mean the defaults, more than 500 is an error). */
export function parseV2Query(query: V2Query): { filter: ArtifactFilter; paging: Paging } {
  const exact: string[] = []
  const prefixes: string[] = []
  for (const name of query.name ?? []) {
    const parsed = exactOrPrefix(name)
    if ('exact' in parsed) exact.push(parsed.exact)
    else prefixes.push(parsed.prefix)
  }
  if (exact.length > 0 && prefixes.length > 0) {
    throw new BadRequestError('invalid filter: cannot filter by both exact names and name prefix')
  }
  if (prefixes.length > 1) throw new BadRequestError('invalid filter: only one name prefix is allowed')
  if (exact.length > MAX_EXACT_NAMES) {
    throw new BadRequestError(`invalid filter: at most ${MAX_EXACT_NAMES} names are allowed`)
  }
  const perPage = Number(query.per_page)
  if (Number.isInteger(perPage) && perPage > MAX_PER_PAGE) {
    throw new BadRequestError(`invalid filter: per_page: must be no greater than ${MAX_PER_PAGE}`)
  }
  return {
    filter: {
      names: exact.length > 0 ? exact : undefined,
      name: prefixes[0] === undefined ? undefined : { startsWithAnyCase: prefixes[0] },
      description: exactOrPrefixMatch(query.description),
      deviceType: exactOrPrefixMatch(query.device_type),
    },
    paging: lenientPaging(query),
  }
}
