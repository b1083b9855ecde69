import { useEffect, useState } from 'preact/hooks'

/**
 * Pages are addressed by the URL fragment (`#/devices/ID`): the server has one page to serve, and
 * a fragment never leaves the browser, so the one-time setup token in `#/setup/TOKEN` stays out of
 * server and proxy logs.
 */
export type Route = { parts: string[]; query: URLSearchParams }

function parse(): Route {
  const [path = '', search = ''] = location.hash.replace(/^#/, '').split('?')
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse)
  useEffect(() => {
    const update = () => setRoute(parse())
    addEventListener('hashchange', update)
    return () => removeEventListener('hashchange', update)
  }, [])
  return route
}

export const href = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join('/')}`

export function navigate(to: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', to)
    dispatchEvent(new HashChangeEvent('hashchange'))
  } else location.hash = to
}
