/** The one source of time, so tests can pin it. */
export type Clock = { now(): Date }

/** The one source of identifiers (UUIDv4, as Mender mints them). */
export type Ids = { uuid(): string }

export const systemClock: Clock = { now: () => new Date() }
export const randomIds: Ids = { uuid: () => crypto.randomUUID() }
