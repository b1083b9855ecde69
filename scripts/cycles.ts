/**
 * Finds import cycles among the project's own modules (type-only imports included: a cycle of
 * types still ties two modules' designs together). Prints each cycle once; exits 1 when any.
 * Usage: bun scripts/cycles.ts [dir ...]   (default: src db)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return filesUnder(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** Each module under `dirs` (relative to the project) with the project modules it imports. */
export function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of dirs.flatMap((dir) => filesUnder(resolve(ROOT, dir)))) {
    const source = readFileSync(file, 'utf8')
    const imports = [...source.matchAll(IMPORT)].map((m) => relative(ROOT, resolve(dirname(file), m[1]!)))
    graph.set(relative(ROOT, file), imports)
  }
  return graph
}

/** The import cycles of `graph`, each once, as the list of modules around it. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Depth-first search; a back edge to a module on the current path closes a cycle.
  const cycles = new Map<string, string[]>()
  const done = new Set<string>()
  const onPath: string[] = []
  function visit(file: string): void {
    if (done.has(file)) return
    const at = onPath.indexOf(file)
    if (at >= 0) {
      const cycle = onPath.slice(at)
      const key = [...cycle].sort().join('|')
      if (!cycles.has(key)) cycles.set(key, cycle)
      return
    }
    onPath.push(file)
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next)
    onPath.pop()
    done.add(file)
  }
  for (const file of graph.keys()) visit(file)
  return [...cycles.values()]
}

if (import.meta.main) {
  const dirs = process.argv.slice(2)
  const graph = importGraph(dirs.length > 0 ? dirs : ['src', 'db'])
  const cycles = findCycles(graph)
  for (const cycle of cycles) console.log([...cycle, cycle[0]!].join(' -> '))
  if (cycles.length > 0) process.exit(1)
  console.log(`no import cycles among ${graph.size} modules`)
}
