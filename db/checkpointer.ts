import type { CheckpointReply, CheckpointRequest } from './checkpoint-worker.ts'
import type { Database } from './client.ts'

/**
 * Where the worker's code is: beside this file when running from source; inside a compiled binary,
 * entrypoints sit under /$bunfs/root/ at their source paths (scripts/build.ts builds with --root .).
 */
const WORKER_URL = import.meta.url.startsWith('file:///$bunfs/')
  ? '/$bunfs/root/db/checkpoint-worker.ts'
  : new URL('./checkpoint-worker.ts', import.meta.url).href

/** How often the WAL is copied into the database file: a second of writes is a few MiB of WAL at most. */
const CHECKPOINT_INTERVAL_MS = 1000

/** Checkpoints the server's database off the thread that answers requests. */
export interface Checkpointer {
  /** Runs a last checkpoint and ends the worker; resolves once it has. */
  stop(): Promise<void>
}

/**
 * The WAL size past which the writer's own connection finishes the worker's checkpoint, so that its
 * next commit starts the WAL over (and the file is cut back to this size).
 */
export const WAL_RESTART_BYTES = 256 * 1024 * 1024

/** Who hears from the checkpointer, and how often it runs (the defaults are the server's). */
export type CheckpointerOptions = {
  /** A checkpoint that failed (the next one retries). */
  onError: (error: string) => void
  /** The writer's catch-up ran, taking `ms` of its thread. */
  onCatchUp?: (ms: number) => void
  intervalMs?: number
  restartBytes?: number
}

/**
 * By default SQLite checkpoints inside the commit that grows the WAL past 1000 pages: that commit,
 * on the thread answering devices, then copies and syncs megabytes of pages (a stall of a hundred
 * milliseconds and more on a large database). The server turns that off and checkpoints from a
 * worker thread with its own connection instead. Durability is unchanged: a commit is durable once
 * in the WAL, checkpointed or not.
 *
 * A checkpoint alone never shortens the WAL: the writer starts it over at its next commit only if
 * every frame has been copied, and under steady writes some always arrive while the worker copies
 * (a rollout to 100 000 devices grew it past ten gigabytes). So past `restartBytes` (256 MiB: at
 * fleet rates every few seconds) the worker copies until a pass is quick, then asks the writer's
 * connection to copy the few frames written since, between two requests: with nothing left to copy,
 * the next commit writes the WAL from its start, and `journal_size_limit` cuts the file back.
 */
export function startCheckpointer(db: Database, options: CheckpointerOptions): Checkpointer {
  const { onError, onCatchUp } = options
  const intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS
  const restartBytes = options.restartBytes ?? WAL_RESTART_BYTES
  const sqlite = db.$client
  sqlite.run('PRAGMA wal_autocheckpoint = 0')
  sqlite.run(`PRAGMA journal_size_limit = ${restartBytes}`)
  const worker = new Worker(WORKER_URL)
  let stopped: Promise<void> | undefined
  let onStopped: (() => void) | undefined
  worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
    const reply = event.data
    if (reply.kind === 'error') onError(reply.error)
    else if (reply.kind === 'stopped') onStopped?.()
    else if (!stopped) {
      const started = performance.now()
      try {
        sqlite.query('PRAGMA wal_checkpoint(PASSIVE)').get()
        onCatchUp?.(performance.now() - started)
      } catch (err) {
        onError(String(err))
      }
      worker.postMessage({ kind: 'resume' } satisfies CheckpointRequest)
    }
  }
  worker.postMessage({
    kind: 'start',
    path: sqlite.filename,
    intervalMs,
    restartBytes,
  } satisfies CheckpointRequest)
  worker.unref()
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        onStopped = () => {
          worker.terminate()
          resolve()
        }
        worker.onerror = () => resolve()
        worker.postMessage({ kind: 'stop' } satisfies CheckpointRequest)
      })
      return stopped
    },
  }
}
