import { describe, expect, test } from 'bun:test'
import {
  headerParams,
  MultipartError,
  MultipartReader,
  multipartBoundary,
  readPartText,
} from '../../src/gateway/multipart.ts'

const encoder = new TextEncoder()

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!
    yield bytes.slice(at, at + size)
    at += size
  }
}

type Parsed = { name: string; filename?: string; contentType?: string; content: string }

async function parseAll(source: AsyncIterable<Uint8Array>, boundary: string): Promise<Parsed[]> {
  const reader = new MultipartReader(source, boundary)
  const parts: Parsed[] = []
  for (let part = await reader.next(); part; part = await reader.next()) {
    const chunks: Uint8Array[] = []
    for await (const chunk of part.body) chunks.push(chunk)
    parts.push({
      name: part.name,
      ...(part.filename === undefined ? {} : { filename: part.filename }),
      ...(part.contentType === undefined ? {} : { contentType: part.contentType }),
      content: Buffer.concat(chunks).toString('latin1'),
    })
  }
  return parts
}

const boundary = 'xYzZy'
// Content that looks like the delimiter but is not one, at every position a chunk edge can split it.
const tricky = 'a\r\n--xYzZ\r\n--xYz\r\n-\r\n\r\nx--xYzZy\n--xYzZy\r\n--xYzZ'
const body = [
  'preamble to ignore\r\n',
  `--${boundary}\r\n`,
  'Content-Disposition: form-data; name="size"\r\n\r\n',
  '1234',
  `\r\n--${boundary}  \r\n`,
  'content-disposition: form-data; name="Description"\r\n\r\n',
  '',
  `\r\n--${boundary}\r\n`,
  'Content-Disposition: form-data; name="artifact"; filename="my \\"file\\".mender"\r\n',
  'Content-Type: application/octet-stream\r\n\r\n',
  tricky,
  `\r\n--${boundary}\r\n`,
  'Content-Type: text/plain\r\n\r\n',
  'not form-data',
  `\r\n--${boundary}--\r\n`,
  'epilogue',
].join('')
const expected: Parsed[] = [
  { name: 'size', content: '1234' },
  { name: 'description', content: '' },
  {
    name: 'artifact',
    filename: 'my "file".mender',
    contentType: 'application/octet-stream',
    content: tricky,
  },
  { name: '', contentType: 'text/plain', content: 'not form-data' },
]

describe('multipart reader', () => {
  for (const sizes of [[1], [2], [3], [7], [11, 1, 5], [64], [100000]]) {
    test(`finds every part with chunks of ${sizes.join(', ')} bytes`, async () => {
      expect(await parseAll(chunked(encoder.encode(body), sizes), boundary)).toEqual(expected)
    })
  }

  test('random contents full of near-delimiters survive random chunking', async () => {
    let seed = 42
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const pieces = ['\r', '\n', '-', '--', 'x', 'xYzZ', '\r\n--xYz', 'q']
    for (let round = 0; round < 50; round++) {
      const contents = Array.from({ length: 1 + random(4) }, () =>
        Array.from({ length: random(40) }, () => pieces[random(pieces.length)]).join(''),
      )
      const parts = contents.map(
        (content, i) => `--${boundary}\r\nContent-Disposition: form-data; name="p${i}"\r\n\r\n${content}\r\n`,
      )
      const text = `${parts.join('')}--${boundary}--`
      const sizes = Array.from({ length: 5 }, () => 1 + random(12))
      const parsed = await parseAll(chunked(encoder.encode(text), sizes), boundary)
      expect(parsed.map((part) => part.content)).toEqual(contents)
    }
  })

  test('reads what fetch itself encodes, binary content included', async () => {
    const binary = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256)
    const form = new FormData()
    form.append('size', String(binary.length))
    form.append('artifact', new Blob([binary]), 'a.mender')
    const request = new Request('http://localhost/', { method: 'POST', body: form })
    const type = request.headers.get('content-type')!
    const reader = new MultipartReader(request.body!, multipartBoundary(type)!)
    const size = await reader.next()
    expect(size?.name).toBe('size')
    expect(await readPartText(size!)).toBe('300000')
    const artifact = await reader.next()
    expect(artifact?.filename).toBe('a.mender')
    const chunks: Uint8Array[] = []
    for await (const chunk of artifact!.body) chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(binary)).toBe(true)
    expect(await reader.next()).toBeNull()
  })

  test('skips the unread rest of a part when asked for the next one', async () => {
    const reader = new MultipartReader(chunked(encoder.encode(body), [5]), boundary)
    await reader.next()
    await reader.next()
    const artifact = await reader.next()
    expect(artifact?.name).toBe('artifact')
    expect((await reader.next())?.name).toBe('')
    expect(await reader.next()).toBeNull()
  })

  test('a body without any delimiter has no parts', async () => {
    expect(await parseAll(chunked(encoder.encode('just text'), [3]), boundary)).toEqual([])
  })

  test('a body cut inside a part is an error', async () => {
    const cut = body.slice(0, body.indexOf(tricky) + 5)
    await expect(parseAll(chunked(encoder.encode(cut), [4]), boundary)).rejects.toBeInstanceOf(MultipartError)
  })

  test('endless part headers are refused', async () => {
    const endless = `--${boundary}\r\nX-Junk: ${'a'.repeat(20_000)}`
    await expect(parseAll(chunked(encoder.encode(endless), [1000]), boundary)).rejects.toThrow(
      'part headers too large',
    )
  })

  test('text parts are capped', async () => {
    const big = `--${boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n${'d'.repeat(50)}\r\n--${boundary}--`
    const reader = new MultipartReader(chunked(encoder.encode(big), [8]), boundary)
    await expect(readPartText((await reader.next())!, 10)).rejects.toThrow(
      "failed to read form value 'description': too large",
    )
  })

  test('boundaries and header parameters', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc')
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b;c"')).toBe('a b;c')
    expect(multipartBoundary('multipart/form-data')).toBeUndefined()
    expect(multipartBoundary(`multipart/form-data; boundary=${'b'.repeat(71)}`)).toBeUndefined()
    expect(headerParams('form-data; name=plain; filename="x.mender"')).toEqual(
      new Map([
        ['name', 'plain'],
        ['filename', 'x.mender'],
      ]),
    )
  })
})
