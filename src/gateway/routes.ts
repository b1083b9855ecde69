import { RAW_BODY_PARSER, STREAM_BODY_PARSER } from './body.ts'

/** What the route index needs of Elysia's route table (`app.routes`). */
type RouteEntry = { method: string; path: string; hooks?: { parse?: unknown } }

/** Which methods a path has, for 405 answers and OPTIONS on known paths; which routes read raw bodies. */
export type RouteIndex = {
  load(routes: readonly RouteEntry[]): void
  methodsFor(path: string): string[]
  /** True for a route that declared `parse: RAW_BODY_PARSER` or `STREAM_BODY_PARSER`: the shared body parser leaves it alone. */
  readsRawBody(method: string, path: string): boolean
}

function toPattern(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*'
      if (segment.startsWith(':')) return '[^/]+'
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    })
    .join('/')
  return new RegExp(`^${escaped}/?$`)
}

const OWN_PARSERS: unknown[] = [RAW_BODY_PARSER, STREAM_BODY_PARSER]

/** Elysia keeps a route's own parsers as `{ fn }` entries next to the inherited global ones. */
function declaresRawParser(hooks: RouteEntry['hooks']): boolean {
  const parse = hooks?.parse
  const parsers = Array.isArray(parse) ? parse : [parse]
  return parsers.some(
    (entry) => OWN_PARSERS.includes(entry) || OWN_PARSERS.includes((entry as { fn?: unknown })?.fn),
  )
}

const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/(.)\/$/, '$1')}`

export function createRouteIndex(): RouteIndex {
  let loaded: readonly RouteEntry[] = []
  // Compiled on the first 405 or OPTIONS answer rather than at start: a regular expression per route.
  let entries: { pattern: RegExp; method: string }[] | undefined
  // Exact paths only: a raw-body route has no path parameters, so the lookup stays a set probe per request.
  let rawBodyRoutes = new Set<string>()
  return {
    load(routes) {
      loaded = routes
      entries = undefined
      rawBodyRoutes = new Set(
        routes
          .filter((route) => declaresRawParser(route.hooks))
          .map((route) => routeKey(route.method, route.path)),
      )
    },
    methodsFor(path) {
      entries ??= loaded.map((route) => ({
        pattern: toPattern(route.path),
        method: route.method.toUpperCase(),
      }))
      const methods = new Set<string>()
      for (const entry of entries) if (entry.pattern.test(path)) methods.add(entry.method)
      if (methods.has('GET')) methods.add('HEAD')
      return [...methods].sort()
    },
    readsRawBody: (method, path) => rawBodyRoutes.size > 0 && rawBodyRoutes.has(routeKey(method, path)),
  }
}
