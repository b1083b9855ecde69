import { BadRequestError } from '../../gateway/errors.ts'
import { MAX_PAGE, parsePaging } from '../../gateway/paging.ts'
import { isScope, SCOPES } from './model.ts'

/**
 * The words of a search text: runs of letters and digits; everything else separates them (as the
 * free-text index cuts a device's text, see text.ts).
 */
export const keywords = (text: string): string[] => text.split(/[^\p{L}\p{N}]+/u).filter(Boolean)

/** Mender's filter operators (`$ltne` passes Mender's validation but fails in its store: a 400 here). */
const OPERATORS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$regex'] as const
export type Operator = (typeof OPERATORS)[number] | '$prefix'

/** One condition on one attribute; `$prefix` (identity search) matches strings starting with value. */
export type Filter = { scope: string; name: string; op: Operator; value: unknown }
export type SortKey = { scope: string; name: string; desc: boolean }
export type Selection = { scope: string; name: string }

/** Every device search, whichever API it came from, in one shape. */
export type SearchRequest = {
  filters: Filter[]
  sort: SortKey[]
  page: number
  perPage: number
  /** Attributes to show (`system/updated_ts` is always added); all when absent. */
  attributes?: Selection[]
  /** Free text, as its words: devices having any of them match (none: no device matches). */
  text?: string[]
}

const MAX_PER_PAGE = 500
/** Words of a free-text search: each is a term the index looks up. */
const MAX_TEXT_WORDS = 64
const DEFAULT_PER_PAGE = 20

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`${field}: cannot be empty`)
  return value
}

function requireScope(value: unknown, field: string): string {
  const scope = requireText(value, field)
  if (!isScope(scope)) throw new BadRequestError(`${field}: must be one of ${SCOPES.join(', ')}`)
  return scope
}

/** A list the route's schema has bounded (`searchBody`), or none. */
function optionalList(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new BadRequestError(`${field}: must be an array`)
  return value
}

/** `page`/`per_page` of a JSON body: below 1 means the default, above 500 is refused. */
function bodyPaging(page: unknown, perPage: unknown): { page: number; perPage: number } {
  const read = (value: unknown, field: string, fallback: number) => {
    if (value === undefined || value === null) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new BadRequestError(`${field}: must be an integer`)
    }
    if (value > MAX_PAGE) throw new BadRequestError(`${field}: must be no greater than ${MAX_PAGE}`)
    return value < 1 ? fallback : value
  }
  const result = { page: read(page, 'page', 1), perPage: read(perPage, 'per_page', DEFAULT_PER_PAGE) }
  if (result.perPage > MAX_PER_PAGE)
    throw new BadRequestError(`per_page: must be no greater than ${MAX_PER_PAGE}`)
  return result
}

function parseFilter(raw: unknown, at: string): Filter {
  if (!isObject(raw)) throw new BadRequestError(`${at}: must be an object`)
  const scope = requireScope(raw.scope, `${at}.scope`)
  const name = requireText(raw.attribute, `${at}.attribute`)
  const type = requireText(raw.type, `${at}.type`)
  if (!(OPERATORS as readonly string[]).includes(type)) {
    throw new BadRequestError(`${at}.type: unsupported operator "${type}"`)
  }
  const op = type as Operator
  const value = raw.value
  if (value === undefined || value === null) throw new BadRequestError(`${at}.value: is required`)
  if ((op === '$in' || op === '$nin') && !Array.isArray(value)) {
    throw new BadRequestError(`${at}.value: ${op} needs an array`)
  }
  if (op === '$regex' && typeof value !== 'string')
    throw new BadRequestError(`${at}.value: $regex needs a string`)
  if (['$gt', '$gte', '$lt', '$lte'].includes(op) && typeof value !== 'string' && typeof value !== 'number') {
    throw new BadRequestError(`${at}.value: ${op} needs a string or a number`)
  }
  return { scope, name, op, value }
}

function parseSort(raw: unknown, at: string): SortKey {
  if (!isObject(raw)) throw new BadRequestError(`${at}: must be an object`)
  const scope = requireScope(raw.scope, `${at}.scope`)
  const name = requireText(raw.attribute, `${at}.attribute`)
  const order = requireText(raw.order, `${at}.order`)
  if (order !== 'asc' && order !== 'desc') throw new BadRequestError(`${at}.order: must be asc or desc`)
  return { scope, name, desc: order === 'desc' }
}

function parseSelection(raw: unknown, at: string): Selection {
  if (!isObject(raw)) throw new BadRequestError(`${at}: must be an object`)
  return {
    scope: requireScope(raw.scope, `${at}.scope`),
    name: requireText(raw.attribute, `${at}.attribute`),
  }
}

/** The v2 `filters/search` body. */
export function parseSearchBody(body: unknown): SearchRequest {
  const raw = body ?? {}
  if (!isObject(raw)) throw new BadRequestError('failed to decode request body: expected a JSON object')
  const filters = optionalList(raw.filters, 'filters').map((f, i) => parseFilter(f, `filters[${i}]`))
  const sort = optionalList(raw.sort, 'sort').map((s, i) => parseSort(s, `sort[${i}]`))
  const selections = optionalList(raw.attributes, 'attributes').map((a, i) =>
    parseSelection(a, `attributes[${i}]`),
  )
  const deviceIds = optionalList(raw.device_ids, 'device_ids')
  if (deviceIds.some((id) => typeof id !== 'string')) throw new BadRequestError('device_ids: must be strings')
  if (deviceIds.length > 0) filters.push({ scope: 'identity', name: 'id', op: '$in', value: deviceIds })
  if (raw.text !== undefined && raw.text !== null && typeof raw.text !== 'string') {
    throw new BadRequestError('text: must be a string')
  }
  const words = typeof raw.text === 'string' && raw.text !== '' ? keywords(raw.text) : undefined
  if (words && words.length > MAX_TEXT_WORDS) {
    throw new BadRequestError(`text: at most ${MAX_TEXT_WORDS} words are allowed`)
  }
  return {
    filters,
    sort,
    ...bodyPaging(raw.page, raw.per_page),
    ...(selections.length > 0 ? { attributes: selections } : {}),
    ...(words ? { text: words } : {}),
  }
}

/** The v2alpha1 identity search: a prefix of an identity attribute, the device id, or the `name` tag. */
export function parseIdentitySearch(body: unknown): SearchRequest {
  if (!isObject(body)) throw new BadRequestError('failed to decode request body: expected a JSON object')
  const scope = requireText(body.scope, 'scope')
  if (scope !== 'identity' && scope !== 'tags') throw new BadRequestError('scope: must be identity or tags')
  const name = requireText(body.name, 'name')
  if (scope === 'tags' && name !== 'name')
    throw new BadRequestError('name: only the "name" tag can be searched')
  if (typeof body.value_prefix !== 'string') throw new BadRequestError('value_prefix: must be a string')
  const selections = optionalList(body.attributes, 'attributes').map((a, i) =>
    parseSelection(a, `attributes[${i}]`),
  )
  return {
    filters: [{ scope, name, op: '$prefix', value: body.value_prefix }],
    sort: [],
    ...bodyPaging(body.page, body.per_page),
    ...(selections.length > 0 ? { attributes: selections } : {}),
  }
}

/** `[scope/]name`, the scope defaulting to inventory (Go's SplitN on the first "/"). */
function splitScope(key: string): { scope: string; name: string } {
  const slash = key.indexOf('/')
  return slash < 0
    ? { scope: 'inventory', name: key }
    : { scope: key.slice(0, slash), name: key.slice(slash + 1) }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const GO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const BOOLEAN_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True']
const BOOLEAN_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False']
const LIST_PARAMS = new Set(['page', 'per_page', 'sort', 'has_group', 'group'])

/**
 * A v1 filter value: `eq:` is the one operator (any other `prefix:` is part of the value, so
 * `mac=00:11:22` works); a value that reads as a number or as a `2006-01-02T15:04:05Z` time also
 * matches that number or time, as Mender matches strings or numbers (or dates).
 */
function listFilter(key: string, raw: string): Filter {
  const { scope, name } = splitScope(key)
  const value = raw.startsWith('eq:') && raw.length > 3 ? raw.slice(3) : raw
  const values: (string | number)[] = [value]
  if (DECIMAL.test(value)) values.push(Number(value))
  if (GO_TIME.test(value) && !Number.isNaN(Date.parse(value))) values.push(new Date(value).toISOString())
  return { scope, name, op: '$in', value: values }
}

/** The v1 devices list: paging, `has_group`, `group`, one-key `sort` and `[scope/]name=value` filters. */
export function parseListQuery(params: URLSearchParams): SearchRequest {
  const first = (name: string) => params.get(name) ?? undefined
  const { page, perPage } = parsePaging({ page: first('page'), per_page: first('per_page') })
  const filters: Filter[] = []
  const hasGroup = first('has_group')
  if (hasGroup !== undefined && hasGroup !== '') {
    if (!BOOLEAN_TRUE.includes(hasGroup) && !BOOLEAN_FALSE.includes(hasGroup)) {
      throw new BadRequestError(`invalid has_group value "${hasGroup}": must be true or false`)
    }
    filters.push({ scope: 'system', name: 'group', op: '$exists', value: BOOLEAN_TRUE.includes(hasGroup) })
  }
  const group = first('group')
  if (group) filters.push({ scope: 'system', name: 'group', op: '$eq', value: group })
  const sort: SortKey[] = []
  const sortParam = first('sort')
  if (sortParam) {
    const parts = sortParam.split(':')
    const { scope, name } = splitScope(parts[0]!)
    const order = parts.length === 2 ? parts[1] : undefined
    if (order !== undefined && order !== 'asc' && order !== 'desc')
      throw new BadRequestError('invalid sort order')
    sort.push({ scope, name, desc: order !== 'asc' })
  }
  for (const key of new Set(params.keys())) {
    if (!LIST_PARAMS.has(key)) filters.push(listFilter(key, first(key)!))
  }
  return { filters, sort, page, perPage }
}

/** A saved filter's terms: the predicates of `filters/search`, at least one. */
export function parseTerms(terms: readonly unknown[]): Filter[] {
  if (terms.length === 0) throw new BadRequestError('terms: give at least one term')
  return terms.map((term, i) => parseFilter(term, `terms[${i}]`))
}
