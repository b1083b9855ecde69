/**
 * The deployments' rules (pick-up, transitions, gates, the store's changes) are written once for
 * both engines as generators of steps: each row call's answer is yielded to a driver, which hands
 * its value back. On SQLite the answers are values already and `runSync` keeps the whole change
 * inside one synchronous bun:sqlite transaction; on PostgreSQL they are Promises that `runAsync`
 * awaits inside the change's transaction.
 */

/** What a row call answers: a value on SQLite, a Promise of it on PostgreSQL. */
export type Awaitable<T> = T | Promise<T>

/** A rule's run: its row calls' answers go out, their values come back, `R` is its result. */
export type Steps<R> = Generator<unknown, R, unknown>

/** The rows as the rules see them: each method may answer now or later. */
export type EitherEngine<I> = {
  [K in keyof I]: I[K] extends (...args: infer A) => infer R ? (...args: A) => Awaitable<R> : never
}

/** The rows on PostgreSQL: the same methods, each answering a Promise. */
export type Promised<I> = {
  [K in keyof I]: I[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never
}

/** One row call inside a rule: `const row = yield* step(devices.findBySeq(seq))`. */
export function* step<T>(answer: Awaitable<T>): Generator<unknown, T, unknown> {
  return (yield answer) as T
}

/** Runs a rule whose row calls answer at once (SQLite); a Promise among them is a bug. */
export function runSync<R>(steps: Steps<R>): R {
  let next = steps.next()
  while (!next.done) {
    if (next.value instanceof Promise)
      throw new Error('deployments: an asynchronous row call in a SQLite rule')
    next = steps.next(next.value)
  }
  return next.value
}

/** Runs a rule whose row calls answer Promises (PostgreSQL), one after another. */
export async function runAsync<R>(steps: Steps<R>): Promise<R> {
  let next = steps.next()
  while (!next.done) next = steps.next(await next.value)
  return next.value
}
