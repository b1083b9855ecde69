import { Database } from 'bun:sqlite'

/**
 * What the main thread sends: open the database and checkpoint every `intervalMs`; carry on after
 * the writer has finished a catch-up (`resume`); or stop.
 */
export type CheckpointRequest =
  | { kind: 'start'; path: string; intervalMs: number; restartBytes: number }
  | { kind: 'resume' }
  | { kind: 'stop' }
/**
 * What the worker answers: after `stop`, that its last checkpoint ran; an error as its text; and
 * `catch-up` when the WAL has grown past `restartBytes`: the writer's connection should copy the
 * frames written since, then send `resume` (the worker waits, so the two never contend).
 */
export type CheckpointReply = { kind: 'stopped' } | { kind: 'error'; error: string } | { kind: 'catch-up' }

declare const self: Worker

let db: Database | undefined
let timer: ReturnType<typeof setTimeout> | undefined
let intervalMs = 1000
let restartFrames = Number.POSITIVE_INFINITY

/**
 * PASSIVE copies committed WAL frames into the database file without waiting for, or blocking,
 * the readers and the writer. Returns how many frames the WAL holds (-1 when it could not run).
 */
function checkpoint(): number {
  try {
    const result = db?.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number } | null
    return result?.log ?? -1
  } catch (err) {
    self.postMessage({ kind: 'error', error: String(err) } satisfies CheckpointReply)
    return -1
  }
}

/** A pass this short leaves the writer only a few milliseconds of frames to copy. */
const QUICK_PASS_MS = 20
/** Passes in a row before giving up until the next tick (writes outpacing the copy). */
const MAX_PASSES = 20

/**
 * Past the limit, passes run back to back: each copies what arrived during the one before, so they
 * shorten while the copy outpaces the writes. Once one is quick, what is left for the writer's own
 * catch-up (which holds the thread answering requests) is what arrived during that pass. While the
 * writes outpace the copy, no pass is quick and the writer is never asked: the WAL grows past the
 * limit until they slow down, rather than the thread answering devices stalling on a long copy.
 */
function tick(): void {
  if (checkpoint() > restartFrames) {
    for (let pass = 1; pass < MAX_PASSES; pass++) {
      const started = performance.now()
      checkpoint()
      if (performance.now() - started < QUICK_PASS_MS) {
        self.postMessage({ kind: 'catch-up' } satisfies CheckpointReply)
        return
      }
    }
  }
  timer = setTimeout(tick, intervalMs)
}

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data
  if (request.kind === 'start') {
    db = new Database(request.path)
    db.run('PRAGMA busy_timeout = 5000')
    intervalMs = request.intervalMs
    const { page_size } = db.query('PRAGMA page_size').get() as { page_size: number }
    restartFrames = Math.floor(request.restartBytes / page_size)
    timer = setTimeout(tick, intervalMs)
    return
  }
  if (request.kind === 'resume') {
    if (db) timer = setTimeout(tick, intervalMs)
    return
  }
  clearTimeout(timer)
  checkpoint()
  db?.close()
  db = undefined
  self.postMessage({ kind: 'stopped' } satisfies CheckpointReply)
}
