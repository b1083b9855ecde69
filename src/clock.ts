/** The one source of time, so tests can pin it. */
export type Clock = { now(): Date }

export const systemClock: Clock = { now: () => new Date() }
