import { useEffect, useRef } from 'preact/hooks'
import { API, currentSession, onSessionChange } from './api.ts'

/**
 * Live updates: the server's event stream (`/api/management/v1/events/stream`, server-sent
 * events) read with fetch, because EventSource cannot send the Authorization header and the token
 * must not go into a URL. Reconnects with Last-Event-ID after a drop, so nothing is missed.
 */
export type LiveEvent = {
  id: string
  type: string
  subject: string
  time: string
  data: Record<string, unknown>
}
type Listener = (event: LiveEvent) => void

const listeners = new Set<Listener>()
let running: AbortController | undefined
let lastId: string | undefined

function dispatch(block: string): void {
  let id: string | undefined
  let data = ''
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  if (!data) return
  if (id) lastId = id
  const event = JSON.parse(data) as LiveEvent
  for (const listener of listeners) listener(event)
}

async function follow(signal: AbortSignal): Promise<void> {
  for (let wait = 1000; !signal.aborted; wait = Math.min(wait * 2, 30_000)) {
    const session = currentSession()
    if (!session) return
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${session.token}` }
      if (lastId) headers['last-event-id'] = lastId
      const response = await fetch(`${API}/v1/events/stream`, { headers, signal })
      // A refused token is the session's business (the next API call ends it); stop here.
      if (response.status === 401 || response.status === 403) return
      if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`)
      wait = 1000
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          dispatch(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
        }
      }
    } catch {
      if (signal.aborted) return
    }
    await new Promise((done) => setTimeout(done, wait))
  }
}

function restart(): void {
  running?.abort()
  running = undefined
  lastId = undefined
  if (!currentSession()) return
  running = new AbortController()
  void follow(running.signal)
}

let started = false
/** Follows the stream while someone is signed in (called once by the app). */
export function startLiveUpdates(): void {
  if (started) return
  started = true
  onSessionChange(restart)
  restart()
}

/** Hands every event to `listener` until the answered function is called. */
export function onLiveEvent(listener: (event: LiveEvent) => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/**
 * Calls `onChange` (at most every `quietMs`) when an event `matches`. Pages reload what they show
 * instead of patching it, so what they show is always what the API answers.
 */
export function useLive(matches: (event: LiveEvent) => boolean, onChange: () => void, quietMs = 300): void {
  const latest = useRef({ matches, onChange })
  latest.current = { matches, onChange }
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const listener: Listener = (event) => {
      if (!latest.current.matches(event) || timer) return
      timer = setTimeout(() => {
        timer = undefined
        latest.current.onChange()
      }, quietMs)
    }
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      clearTimeout(timer)
    }
  }, [quietMs])
}

export const isDeviceEvent = (e: LiveEvent) =>
  e.type.startsWith('device-') && e.type !== 'device-deployment-status-changed'
export const isDeploymentEvent = (e: LiveEvent) =>
  e.type.startsWith('deployment-') || e.type === 'device-deployment-status-changed'
