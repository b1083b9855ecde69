import type { Depends } from '../../artifact/header.ts'
import { BadRequestError } from '../../gateway/errors.ts'

/** Mender's bound on how many combinations one artifact's depends may unwind to. */
const MAX_COMBINATIONS = 1024

/** One combination of depends values, keys sorted: what the uniqueness rule compares. */
export type DependsCombination = [key: string, value: string][]

/**
 * Every combination of an artifact's depends values: each multi-valued depend contributes one of
 * its values, single values always appear. `{device_type: [a, b], x: "1"}` unwinds to
 * `[[device_type, a], [x, 1]]` and `[[device_type, b], [x, 1]]`.
 */
export function unwindDepends(depends: Depends): DependsCombination[] {
  const keys = Object.keys(depends).sort()
  let combinations: DependsCombination[] = [[]]
  for (const key of keys) {
    const raw = depends[key]!
    const values = [...new Set(Array.isArray(raw) ? raw : [raw])]
    if (values.length === 0) continue
    if (combinations.length * values.length > MAX_COMBINATIONS) {
      throw new BadRequestError(`artifact depends have more than ${MAX_COMBINATIONS} combinations of values`)
    }
    combinations = combinations.flatMap((prefix) =>
      values.map((value): DependsCombination => [...prefix, [key, value]]),
    )
  }
  return combinations
}

/** A combination as it goes into the unique index. */
export const encodeCombination = (combination: DependsCombination): string => JSON.stringify(combination)

/** A stored combination as Mender reports it in a conflict: `{key: value, ...}`. */
export const decodeCombination = (encoded: string): Record<string, string> =>
  Object.fromEntries(JSON.parse(encoded) as DependsCombination)
