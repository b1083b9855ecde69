import type { Deps } from '../../deps.ts'
import { ConflictError } from '../../gateway/errors.ts'
import type { ArtifactsStore, UploadClaim, UploadIntentRow } from './store.ts'

/**
 * How long a claim on an upload (a direct upload being checked, an `artifact_id` being written)
 * holds unless renewed: the work of an instance that died is taken over about this long after.
 */
export const UPLOAD_CLAIM_MS = 30_000
/** How often an instance renews its claims and looks for claims left to run out. */
export const UPLOAD_CLAIM_RENEW_MS = 10_000

/** This instance's claims on uploads: the ones it holds, renewed while held, and the ones it takes over. */
export type UploadClaims = {
  /** This instance, as the owner of its claims (new at each start). */
  readonly owner: string
  /** A claim of this instance that runs out UPLOAD_CLAIM_MS from now. */
  claim(): UploadClaim
  /** Renews the claim on `id` from now on, until `unhold`. */
  hold(id: string): void
  unhold(id: string): void
  /** From now on also takes over the claims other instances left to run out (first look at once). */
  watch(): Promise<void>
  /** Stops renewing and looking, and lets this instance's claims run out at once. */
  stop(): Promise<void>
}

/**
 * `takeOver` is handed each upload whose claim ran out (its instance died) once this instance has
 * claimed it; it holds the id, and must `unhold` it when its work is done.
 */
export function createUploadClaims(
  deps: Pick<Deps, 'clock' | 'ids' | 'log'>,
  store: ArtifactsStore,
  takeOver: (intent: UploadIntentRow) => void,
): UploadClaims {
  const { clock, log } = deps
  const owner = deps.ids.uuid()
  const claim = (): UploadClaim => ({ owner, until: new Date(clock.now().getTime() + UPLOAD_CLAIM_MS) })
  // Renewed every UPLOAD_CLAIM_RENEW_MS while any is held (and, once watching, the timer also takes
  // over claims left to run out).
  const held = new Set<string>()
  let watching = false
  let timer: ReturnType<typeof setInterval> | undefined
  let round: Promise<void> = Promise.resolve()

  function startTimer(): void {
    if (timer) return
    timer = setInterval(() => {
      round = round.then(renewAndTakeOver)
    }, UPLOAD_CLAIM_RENEW_MS)
    timer.unref()
  }

  function hold(id: string): void {
    held.add(id)
    startTimer()
  }

  function unhold(id: string): void {
    held.delete(id)
    if (held.size > 0 || watching || !timer) return
    clearInterval(timer)
    timer = undefined
  }

  async function renewAndTakeOver(): Promise<void> {
    try {
      if (held.size > 0) {
        const kept = new Set(await store.renewUploadClaims(owner, claim().until))
        const lost = [...held].filter((id) => !kept.has(id))
        // Settled meanwhile, or taken over: the work finds out when it records, and leaves the object.
        if (lost.length > 0) log.debug('upload claims not renewed', { artifact_ids: lost })
      }
      if (watching) await takeStale()
    } catch (err) {
      log.warn('renewing upload claims failed', { err })
    }
  }

  async function takeStale(): Promise<void> {
    for (const intent of await store.takeStaleUploadClaims(claim(), clock.now())) {
      hold(intent.id)
      takeOver(intent)
    }
  }

  return {
    owner,
    claim,
    hold,
    unhold,
    async watch() {
      watching = true
      startTimer()
      await takeStale()
    },
    async stop() {
      watching = false
      if (timer) clearInterval(timer)
      timer = undefined
      await round
      // Run out at once: another instance takes them at its next look. Until it does, whatever this
      // one still settles counts, and once it has, this one's settling finds the claim gone.
      if (held.size > 0) await store.renewUploadClaims(owner, new Date(0)).catch(() => undefined)
    },
  }
}

/** The answer to an artifact id taken by another artifact or another upload. */
export const ID_TAKEN = 'an artifact with this ID already exists'

/** The upload's claim moved to another instance (this one stalled past it): its object is no longer ours. */
export class ClaimLostError extends ConflictError {
  constructor() {
    super(ID_TAKEN)
  }
}
