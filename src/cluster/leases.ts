/** Ends a job's work on this instance; may be asynchronous (a pass finishing its batch). */
export type StopJob = () => void | Promise<void>

/**
 * Background work that must run on one instance at a time (phase openings, purges, webhook
 * deliveries…). Each job is named; an instance runs a job while it holds the job's lease, and
 * another instance takes it over when the holder stops or dies.
 */
export interface Leases {
  /**
   * Runs `start` whenever this instance gets the lease `name`, and the function it answered when
   * the lease is lost (the database connection that held it died). Answers a function that ends
   * the job for good on this instance: stops it if running and gives the lease up.
   */
  run(name: string, start: () => StopJob): () => Promise<void>
  /** Whether this instance runs the job `name` now. */
  holds(name: string): boolean
  /** Ends every job and gives every lease up. */
  close(): Promise<void>
}

/**
 * One process (SQLite): nothing to share, so every job starts at once and runs until it is
 * ended. What PostgreSQL's leases do across instances, this does trivially within one.
 */
export function localLeases(): Leases {
  const running = new Map<string, StopJob>()
  const end = async (name: string, stop: StopJob) => {
    if (running.get(name) !== stop) return
    running.delete(name)
    await stop()
  }
  return {
    run(name, start) {
      requireUnique(running, name)
      const stop = start()
      running.set(name, stop)
      return () => end(name, stop)
    },
    holds: (name) => running.has(name),
    async close() {
      await Promise.all([...running].map(([name, stop]) => end(name, stop)))
    },
  }
}

/** A job name is run once per instance: a second `run` of it is a wiring mistake. */
export function requireUnique(jobs: ReadonlyMap<string, unknown>, name: string): void {
  if (jobs.has(name)) throw new Error(`the background job ${name} is started twice`)
}
