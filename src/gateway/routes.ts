/** Which methods a path has, for 405 answers and OPTIONS on known paths. */
export type RouteIndex = {
  load(routes: readonly { method: string; path: string }[]): void
  methodsFor(path: string): string[]
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

export function createRouteIndex(): RouteIndex {
  let entries: { pattern: RegExp; method: string }[] = []
  return {
    load(routes) {
      entries = routes.map((route) => ({
        pattern: toPattern(route.path),
        method: route.method.toUpperCase(),
      }))
    },
    methodsFor(path) {
      const methods = new Set<string>()
      for (const entry of entries) if (entry.pattern.test(path)) methods.add(entry.method)
      if (methods.has('GET')) methods.add('HEAD')
      return [...methods].sort()
    },
  }
}
