import { BadRequestError } from './errors.ts'

/**
 * Deeper than any body Mender's API takes (device attributes, filters and deployments nest a few
 * levels), far shallower than what overflows the stack of a recursive schema check.
 */
export const MAX_JSON_DEPTH = 64

const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Refuses (400) JSON text nested deeper than MAX_JSON_DEPTH, before it is parsed: a 1 MiB body
 * can nest half a million arrays, which parses fine and then overflows the validator's recursion.
 * One pass over the characters, skipping strings.
 */
export function assertJsonDepth(text: string): void {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new BadRequestError(
          `failed to decode request body: nested deeper than ${MAX_JSON_DEPTH} levels`,
        )
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--
  }
}
