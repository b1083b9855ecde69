import { type Leases, localLeases } from '../cluster/leases.ts'
import type { Deps } from '../deps.ts'
import type { EventsEngine } from './engine.ts'
import type { EventListener } from './model.ts'

/** Committed events, in order, to whoever in this process wants to hear them. */
export interface EventsService {
  /**
   * Hands `listener` every committed event with `seq` above `afterSeq` (default: the newest when
   * called), in `seq` order, one at a time, awaiting a returned promise before the next. Events
   * are read back from the outbox after the commit that wrote them, never handed over on the
   * writer's path; a listener that throws is logged and given the next event. Answers `stop`.
   */
  subscribe(listener: EventListener, options?: { afterSeq?: number }): () => void
  /**
   * A subscription that survives restarts: it resumes after the last event it saved as handled
   * under `name` (the first time: from now on). The position is saved at most once a second and
   * on stop, so after a crash the listener may get again the events of its last second: at least
   * once, never skipped; listeners must tolerate a repeat. With several instances it runs on one
   * of them at a time (the lease `events.subscription.<name>`); another resumes it when that one dies.
   */
  subscribeDurable(name: string, listener: EventListener): () => void
  /** The newest committed `seq` (0 while there is none). */
  lastSeq(): Promise<number>
  /** Deletes the events past the retention (age, then count); also runs on its own every hour. */
  prune(): Promise<number>
  /** Ends every subscription and the timers, and waits for the positions being saved; call before closing the database. */
  stop(): Promise<void>
}

/** How often durable subscribers' positions are saved. */
const CURSOR_SAVE_MS = 1000
/** Events read per outbox query while a subscriber catches up. */
const BATCH = 256
/** How often subscribers look without a commit notice: events another process wrote show up this late. */
const POLL_MS = 1000
const PRUNE_MS = 3_600_000

export function createEventsService(
  deps: Pick<Deps, 'config' | 'clock' | 'log'>,
  engine: EventsEngine,
  leases: Leases = localLeases(),
): EventsService {
  const { config, clock, log } = deps
  const { store, outbox } = engine
  let waiters: (() => void)[] = []
  const wakeAll = () => {
    const woken = waiters
    waiters = []
    for (const wake of woken) wake()
  }
  const nextWake = () => new Promise<void>((resolve) => waiters.push(resolve))
  outbox.useClock(clock)
  const stopNotices = outbox.onCommit(wakeAll)
  const poll = setInterval(wakeAll, POLL_MS)
  const subscriptions = new Set<() => void>()

  const prune = async (): Promise<number> => {
    const before = new Date(clock.now().getTime() - config.eventRetentionSeconds * 1000)
    return store.prune(before, config.eventMaxCount)
  }
  const endPruner = leases.run('events.prune', () => {
    const pruner = setInterval(() => {
      prune().catch((err) => log.error('pruning events failed', { err }))
    }, PRUNE_MS)
    pruner.unref()
    return () => clearInterval(pruner)
  })
  poll.unref()

  function subscribe(listener: EventListener, options: { afterSeq?: number | Promise<number> } = {}) {
    let stopped = false
    // lastSeq reads synchronously when called, so "from now" is this very moment.
    const start = options.afterSeq ?? store.lastSeq()
    const run = async () => {
      let cursor = await start
      while (!stopped) {
        // Waiting starts before the read: a commit landing during the read still wakes us.
        const woken = nextWake()
        const events = await store.readAfter(cursor, BATCH)
        for (const event of events) {
          if (stopped) return
          try {
            await listener(event)
          } catch (err) {
            log.error('an event listener failed', { err, seq: event.seq, type: event.type })
          }
          cursor = event.seq
        }
        if (events.length < BATCH) await woken
      }
    }
    const stop = () => {
      stopped = true
      subscriptions.delete(stop)
      wakeAll()
    }
    subscriptions.add(stop)
    run().catch((err) => log.error('an event subscription stopped', { err }))
    return stop
  }

  /** Durable subscribers' positions not saved yet. */
  const unsaved = new Map<string, number>()
  /** Saves under way, so that stop can wait for them before the database closes. */
  const saving = new Set<Promise<void>>()
  const saveCursors = () => {
    for (const [name, seq] of unsaved) {
      unsaved.delete(name)
      const save = store
        .saveCursor(name, seq)
        .catch((err) => log.error('saving an event cursor failed', { err, name }))
      saving.add(save)
      void save.finally(() => saving.delete(save)) // settles when the save does; failures are logged above
    }
  }
  const saver = setInterval(saveCursors, CURSOR_SAVE_MS)
  saver.unref()

  /** The durable subscriptions' ends, for `stop`. */
  const durable = new Set<() => Promise<void>>()
  function followDurable(name: string, listener: EventListener): () => void {
    // Read when the lease is taken: another instance may have moved the position since.
    const start = (async () => {
      const saved = await store.readCursor(name)
      if (saved !== undefined) return saved
      const now = await store.lastSeq()
      await store.saveCursor(name, now)
      return now
    })()
    const stop = subscribe(
      async (event) => {
        await listener(event)
        unsaved.set(name, event.seq)
      },
      { afterSeq: start },
    )
    return () => {
      stop()
      saveCursors()
    }
  }
  function subscribeDurable(name: string, listener: EventListener): () => void {
    const end = leases.run(`events.subscription.${name}`, () => followDurable(name, listener))
    durable.add(end)
    return () => {
      durable.delete(end)
      void end() // local leases end at once; a PostgreSQL lease is given up in the background
    }
  }

  return {
    subscribe,

    subscribeDurable,

    lastSeq: () => store.lastSeq(),

    prune,

    async stop() {
      // Ending a durable subscription stops it on this instance and gives its lease up.
      const ending = [...durable].map((end) => end())
      durable.clear()
      for (const stop of [...subscriptions]) stop()
      saveCursors()
      clearInterval(saver)
      stopNotices()
      clearInterval(poll)
      await Promise.all([...ending, endPruner()])
      await Promise.all(saving)
    },
  }
}
