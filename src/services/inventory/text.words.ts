import { Database } from 'bun:sqlite'

/*
 * The free text's words for PostgreSQL, cut and stemmed exactly as SQLite's index cuts them (FTS5's
 * `porter unicode61 remove_diacritics 2`, see text.ts) by that same tokenizer on a small in-memory
 * database. PostgreSQL's own parsers cut differently (host names, versions and hyphenated words are
 * tokens of their own) and its English stemmer is Porter's second algorithm, not FTS5's first: only
 * shared words make both engines find the same devices. PostgreSQL stores and looks the words up
 * (a `tsvector` under a GIN index, queried with a `tsquery`).
 */

/** A B-tree-free limit still applies: a lexeme is at most 2046 bytes; a longer word is stored as its digest. */
const MAX_LEXEME_BYTES = 2000
/** A tsvector holds at most 1 MiB: words past this budget are left out of the device's text. */
const MAX_VECTOR_BYTES = 900_000
/** Positions a tsvector keeps per word, and the largest position. */
const MAX_POSITIONS = 256
const MAX_POSITION = 16_383

let tokenizer: { tokens(text: string): string[] } | undefined

/** The terms of `text` in order (FTS5 gives one term a position with these options). */
function openTokenizer() {
  const db = new Database(':memory:')
  db.run(`CREATE VIRTUAL TABLE words USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')`)
  db.run(`CREATE VIRTUAL TABLE vocab USING fts5vocab(words, 'instance')`)
  const insert = db.query('INSERT INTO words (rowid, body) VALUES (1, ?)')
  const read = db.query<{ term: string; offset: number }, []>('SELECT term, "offset" FROM vocab')
  const clear = db.query('DELETE FROM words')
  return {
    tokens(text: string): string[] {
      insert.run(text)
      const rows = read.all()
      clear.run()
      return rows.sort((a, b) => a.offset - b.offset).map((row) => row.term)
    },
  }
}

const lexeme = (term: string) =>
  Buffer.byteLength(term) > MAX_LEXEME_BYTES
    ? `#${new Bun.CryptoHasher('sha256').update(term).digest('hex')}`
    : term

const quote = (word: string) => `'${word.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`

/** The terms of `text` in order (FTS5's tokens, stemmed), as PostgreSQL's lexemes. */
export function terms(text: string): string[] {
  tokenizer ??= openTokenizer()
  return tokenizer.tokens(text).map(lexeme)
}

/** A device's text (its words joined by spaces) as a `tsvector` literal with word positions. */
export function vectorOf(text: string): string {
  const positions = new Map<string, number[]>()
  for (const [i, word] of terms(text).entries()) {
    const list = positions.get(word)
    if (!list) positions.set(word, [Math.min(i + 1, MAX_POSITION)])
    else if (list.length < MAX_POSITIONS) list.push(Math.min(i + 1, MAX_POSITION))
  }
  const parts: string[] = []
  let bytes = 0
  for (const [word, at] of positions) {
    const part = `${quote(word)}:${at.join(',')}`
    bytes += Buffer.byteLength(part) + 8
    if (bytes > MAX_VECTOR_BYTES) break
    parts.push(part)
  }
  return parts.join(' ')
}

/**
 * A search's words as a `tsquery` literal: devices having any of them, each word a phrase of its
 * terms (as FTS5 reads a quoted word); undefined when no word has a term (nothing matches).
 */
export function queryOf(words: readonly string[]): string | undefined {
  const phrases = words.map((word) => terms(word).map(quote).join(' <-> ')).filter((phrase) => phrase !== '')
  return phrases.length === 0 ? undefined : phrases.map((phrase) => `(${phrase})`).join(' | ')
}
