import { Database } from 'bun:sqlite'

/** What the main thread sends: open the database and checkpoint every `intervalMs`, or stop. */
export type CheckpointRequest = { kind: 'start'; path: string; intervalMs: number } | { kind: 'stop' }
/** What the worker answers: after `stop`, that its last checkpoint ran; an error as its text. */
export type CheckpointReply = { kind: 'stopped' } | { kind: 'error'; error: string }

declare const self: Worker

let db: Database | undefined
let timer: ReturnType<typeof setInterval> | undefined

/**
 * PASSIVE copies committed WAL frames into the database file without waiting for, or blocking,
 * the readers and the writer; the writer starts the WAL over once everything has been copied.
 */
function checkpoint(): void {
  try {
    db?.query('PRAGMA wal_checkpoint(PASSIVE)').get()
  } catch (err) {
    self.postMessage({ kind: 'error', error: String(err) } satisfies CheckpointReply)
  }
}

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data
  if (request.kind === 'start') {
    db = new Database(request.path)
    db.run('PRAGMA busy_timeout = 5000')
    timer = setInterval(checkpoint, request.intervalMs)
    return
  }
  clearInterval(timer)
  checkpoint()
  db?.close()
  db = undefined
  self.postMessage({ kind: 'stopped' } satisfies CheckpointReply)
}
