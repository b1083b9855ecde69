/** The methods stores call on a prepared statement, Drizzle's and bun:sqlite's alike. */
type Run = 'run' | 'all' | 'get' | 'values'

// biome-ignore lint/suspicious/noExplicitAny: each statement kind types its own parameters.
type Statement = Record<Run, (...args: any[]) => unknown>

/**
 * A statement prepared on its first call instead of when its store is built. The stores hold
 * dozens of statements; building their SQL and compiling them all was a large share of start-up,
 * while the first requests need a handful. Later calls cost one closure call more than the
 * statement itself. A statement with an SQL error fails on first use: the store contract suites
 * run every method.
 */
export function preparedOnFirstUse<S extends Statement>(prepare: () => S): Pick<S, Run> {
  let statement: S | undefined
  const use = () => {
    statement ??= prepare()
    return statement
  }
  return {
    run: (...args) => use().run(...args),
    all: (...args) => use().all(...args),
    get: (...args) => use().get(...args),
    values: (...args) => use().values(...args),
  } as Pick<S, Run>
}
