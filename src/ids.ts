import { BadRequestError } from './gateway/errors.ts'

/** The one source of identifiers (UUIDv4, as Mender mints them), so tests can pin them. */
export type Ids = { uuid(): string }

export const randomIds: Ids = { uuid: () => crypto.randomUUID() }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether `value` reads as a UUID (any version, either case), the form Mender's ids take. */
export const isUuid = (value: string): boolean => UUID.test(value)

/** Mender's handlers refuse ids that are not UUIDs (400) before looking anything up. */
export function requireUuid(id: string): void {
  if (!isUuid(id)) throw new BadRequestError('ID is not a valid UUID')
}
