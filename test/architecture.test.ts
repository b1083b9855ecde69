import { expect, test } from 'bun:test'
import { findCycles, importGraph } from '../scripts/cycles.ts'

const graph = importGraph(['src', 'db'])

test('the cycle finder sees a cycle, type-only imports included', () => {
  const toy = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts', 'd.ts']],
    ['d.ts', []],
  ])
  expect(findCycles(toy)).toEqual([['a.ts', 'b.ts', 'c.ts']])
  expect(
    findCycles(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', []],
      ]),
    ),
  ).toEqual([])
})

test('no import cycles among the modules of src and db', () => {
  expect(graph.size).toBeGreaterThan(50)
  expect(findCycles(graph)).toEqual([])
})

test('the .mender format (src/artifact) depends on nothing outside itself but the file helpers', () => {
  const allowed = (i: string) => i.startsWith('src/artifact/') || i === 'src/files.ts'
  const outside = [...graph]
    .filter(([file]) => file.startsWith('src/artifact/'))
    .flatMap(([file, imports]) => imports.filter((i) => !allowed(i)).map((i) => `${file} -> ${i}`))
  expect(outside).toEqual([])
})

test('a service reaches another service only through its service.ts (or the types of its model)', () => {
  const crossing = [...graph].flatMap(([file, imports]) => {
    const own = /^src\/services\/([^/]+)\//.exec(file)?.[1]
    if (!own) return []
    return imports
      .filter((i) => {
        const other = /^src\/services\/([^/]+)\/(.+)$/.exec(i)
        return other && other[1] !== own && !/^(service|model)(\.[a-z]+)?\.ts$/.test(other[2]!)
      })
      .map((i) => `${file} -> ${i}`)
  })
  expect(crossing).toEqual([])
})
