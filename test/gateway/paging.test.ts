import { describe, expect, test } from 'bun:test'
import { pageLinks, pageOffset, parsePaging } from '../../src/gateway/paging.ts'

describe('parsePaging', () => {
  test('defaults to page 1 and 20 per page', () => {
    expect(parsePaging({})).toEqual({ page: 1, perPage: 20 })
    expect(parsePaging({ page: '3', per_page: '500' })).toEqual({ page: 3, perPage: 500 })
  })

  test.each([
    [{ per_page: 501 }, 'parameter "per_page" above limit (max: 500)'],
    [{ per_page: 0 }, 'invalid per_page query: "0"'],
    [{ page: -1 }, 'invalid page query: "-1"'],
    [{ page: '1.5' }, 'invalid page query: "1.5"'],
    [{ page: 'x' }, 'invalid page query: "x"'],
  ])('%j is a 400: %s', (query, message) => {
    expect(() => parsePaging(query)).toThrow(message)
  })

  test('lenient endpoints fall back to the defaults; limits can be lowered', () => {
    expect(parsePaging({ page: 'x', per_page: 900 }, { lenient: true })).toEqual({ page: 1, perPage: 20 })
    expect(() => parsePaging({ per_page: 21 }, { maxPerPage: 20 })).toThrow('(max: 20)')
    expect(pageOffset({ page: 3, perPage: 20 })).toBe(40)
  })
})

describe('pageLinks', () => {
  const url = 'http://localhost/api/x?status=accepted&b=2&a=1&page=2&per_page=10'

  test('first, prev, next, last with the query re-encoded in sorted order', () => {
    expect(pageLinks(url, { page: 2, perPage: 10 }, { total: 35 })).toBe(
      [
        '</api/x?a=1&b=2&page=1&per_page=10&status=accepted>; rel="first"',
        '</api/x?a=1&b=2&page=1&per_page=10&status=accepted>; rel="prev"',
        '</api/x?a=1&b=2&page=3&per_page=10&status=accepted>; rel="next"',
        '</api/x?a=1&b=2&page=4&per_page=10&status=accepted>; rel="last"',
      ].join(', '),
    )
  })

  test('no prev on page 1, no next on the last page, no last without a total', () => {
    expect(pageLinks('http://h/p', { page: 1, perPage: 20 }, { total: 20 })).toBe(
      '</p?page=1&per_page=20>; rel="first", </p?page=1&per_page=20>; rel="last"',
    )
    expect(pageLinks('http://h/p', { page: 1, perPage: 20 }, { hasNext: true })).toBe(
      '</p?page=1&per_page=20>; rel="first", </p?page=2&per_page=20>; rel="next"',
    )
    expect(pageLinks('http://h/p', { page: 1, perPage: 20 }, { total: 0 })).toContain('rel="last"')
  })

  test('repeated parameters keep their order and escaping', () => {
    expect(pageLinks('http://h/p?id=b&id=a&q=a%20b', { page: 1, perPage: 5 }, {})).toBe(
      '</p?id=b&id=a&page=1&per_page=5&q=a%20b>; rel="first"',
    )
  })
})
