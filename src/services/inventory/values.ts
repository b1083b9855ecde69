import { BadRequestError } from '../../gateway/errors.ts'
import { type AttributeValue, MAX_ARRAY_ELEMENTS, MAX_VALUE_BYTES } from './model.ts'

/** Mender's wording for a value of an unsupported type (clients and scripts match on it). */
const UNSUPPORTED_VALUE = 'supported types are string, float64, and arrays thereof'

/** How a value sits in the attribute table: one row per scalar or array element. */
export type ValueRow = { idx: number | null; value: string | number | null }

/** An attribute as a writer hands it to the store. */
export type AttributeInput = { name: string; value: AttributeValue; description?: string }

const isScalar = (value: unknown): value is string | number =>
  typeof value === 'string' || typeof value === 'number'

const valueBytes = (item: string | number) => (typeof item === 'string' ? Buffer.byteLength(item) : 8)

const tooLarge = () =>
  new BadRequestError(
    `attribute value too large: at most ${MAX_ARRAY_ELEMENTS} elements and ${MAX_VALUE_BYTES} bytes`,
  )

/**
 * A string, a number, or an array of only strings or only numbers, within the size bounds (every
 * element is a row and an index entry); anything else is a 400.
 */
function checkValue(value: unknown): AttributeValue {
  if (isScalar(value)) {
    if (valueBytes(value) > MAX_VALUE_BYTES) throw tooLarge()
    return value
  }
  if (!Array.isArray(value)) throw new BadRequestError(UNSUPPORTED_VALUE)
  if (value.length > MAX_ARRAY_ELEMENTS) throw tooLarge()
  const first = value[0]
  if (first === undefined) return []
  if (!isScalar(first)) throw new BadRequestError(UNSUPPORTED_VALUE)
  const kind = typeof first
  let bytes = 0
  for (const item of value) {
    if (typeof item !== kind) throw new BadRequestError('array values must all be strings or all be numbers')
    bytes += valueBytes(item)
  }
  if (bytes > MAX_VALUE_BYTES) throw tooLarge()
  return value as AttributeValue
}

/** The name's length is bounded by the routes' schema (`attributesInput`); here only its type. */
function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new BadRequestError('attribute name must be a string')
  return name
}

/**
 * Validates a whole request body before anything is stored. A name given twice keeps its last
 * value (as a JSON object would); `description` must be a string when present.
 */
export function checkAttributes(body: unknown): AttributeInput[] {
  if (!Array.isArray(body)) throw new BadRequestError('failed to decode request body: expected a JSON array')
  const byName = new Map<string, AttributeInput>()
  for (const item of body) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new BadRequestError('failed to decode request body: expected an array of attributes')
    }
    const { name, value, description } = item as Record<string, unknown>
    const checked: AttributeInput = { name: checkName(name), value: checkValue(value) }
    if (description !== undefined && description !== null) {
      if (typeof description !== 'string') throw new BadRequestError('attribute description must be a string')
      checked.description = description
    }
    byName.delete(checked.name)
    byName.set(checked.name, checked)
  }
  return [...byName.values()]
}

/**
 * Identity data is whatever JSON the device sent. Values inventory cannot hold (booleans, null,
 * objects, mixed arrays) are kept as their JSON text, so the identity still shows and matches.
 */
export function identityValue(value: unknown): AttributeValue {
  try {
    return checkValue(value)
  } catch {
    return JSON.stringify(value) ?? 'null'
  }
}

export function toRows(value: AttributeValue): ValueRow[] {
  if (!Array.isArray(value)) return [{ idx: null, value }]
  if (value.length === 0) return [{ idx: -1, value: null }]
  return value.map((item, idx) => ({ idx, value: item }))
}

/** Rows of one attribute (any order) back to its value. */
export function fromRows(rows: readonly ValueRow[]): AttributeValue {
  const scalar = rows.find((row) => row.idx === null)
  if (scalar) return scalar.value ?? ''
  const elements = rows.filter((row) => row.idx !== null && row.idx >= 0)
  elements.sort((a, b) => a.idx! - b.idx!)
  return elements.map((row) => row.value) as AttributeValue
}

export function sameValue(a: AttributeValue, b: AttributeValue): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return a === b
  return a.length === b.length && a.every((item, i) => item === b[i])
}
