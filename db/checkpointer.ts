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
 * By default SQLite checkpoints inside the commit that grows the WAL past 1000 pages: that commit,
 * on the thread answering devices, then copies and syncs megabytes of pages (a stall of a hundred
 * milliseconds and more on a large database). The server turns that off and checkpoints from a
 * worker thread with its own connection instead. Durability is unchanged: a commit is durable once
 * in the WAL, checkpointed or not.
 */
export function startCheckpointer(
  db: Database,
  onError: (error: string) => void,
  intervalMs = CHECKPOINT_INTERVAL_MS,
): Checkpointer {
  const sqlite = db.$client
  sqlite.run('PRAGMA wal_autocheckpoint = 0')
  const worker = new Worker(WORKER_URL)
  let stopped: Promise<void> | undefined
  worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
    if (event.data.kind === 'error') onError(event.data.error)
  }
  worker.postMessage({
    kind: 'start',
    path: sqlite.filename,
    intervalMs,
  } satisfies CheckpointRequest)
  worker.unref()
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
          if (event.data.kind === 'error') onError(event.data.error)
          else {
            worker.terminate()
            resolve()
          }
        }
        worker.onerror = () => resolve()
        worker.postMessage({ kind: 'stop' } satisfies CheckpointRequest)
      })
      return stopped
    },
  }
}
