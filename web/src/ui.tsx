import type { ComponentChildren, InputHTMLAttributes } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.ts'
import { ago, count, exactTime } from './format.ts'

/** Loads data when `key` changes; `reload` asks again (after an action). */
export function useLoad<T>(load: () => Promise<T>, key: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  const latest = useRef(0)
  useEffect(() => {
    const run = ++latest.current
    setState((previous) => ({ ...previous, loading: true }))
    load().then(
      (data) => run === latest.current && setState({ data, loading: false }),
      (error) => run === latest.current && setState({ error, loading: false }),
    )
  }, [...key, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { ...state, reload }
}

/** Runs an action, keeping its error to show and a busy flag to disable the button. */
export function useAction() {
  const [error, setError] = useState<unknown>()
  const [busy, setBusy] = useState(false)
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true)
    setError(undefined)
    try {
      await action()
      return true
    } catch (err) {
      setError(err)
      return false
    } finally {
      setBusy(false)
    }
  }, [])
  return { error, busy, run, clear: () => setError(undefined) }
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  const message = error instanceof Error ? error.message : String(error)
  const requestId = error instanceof ApiError ? error.requestId : undefined
  return (
    <p class="error" role="alert">
      {message}
      {requestId && <span class="request-id"> Request id: {requestId}.</span>}
    </p>
  )
}

export function Time({ value }: { value: string | undefined }) {
  if (!value) return <span class="muted">never</span>
  const date = new Date(value)
  return (
    <time dateTime={value} title={exactTime(date)}>
      {ago(date)}
    </time>
  )
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  )
}

export function Pager(props: {
  page: number
  perPage: number
  total: number
  onPage: (page: number) => void
  label: string
}) {
  const { page, perPage, total, onPage, label } = props
  const last = Math.max(1, Math.ceil(total / perPage))
  const first = total === 0 ? 0 : (page - 1) * perPage + 1
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <span>
        {count(first)}–{count(Math.min(total, page * perPage))} of {count(total)}
      </span>
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span>
        Page {count(page)} of {count(last)}
      </span>
      <button type="button" disabled={page >= last} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  )
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <progress
      value={value}
      max={Math.max(max, 1)}
      aria-label={label}
      title={`${count(value)} of ${count(max)}`}
    >
      {count(value)} of {count(max)}
    </progress>
  )
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.replace(/[^a-z-]/g, '')}`}>{value.replace(/-/g, ' ')}</span>
}

export function Tabs<T extends string>(props: {
  label: string
  value: T
  options: { value: T; label: string }[]
  onChange: (value: T) => void
}) {
  return (
    <div class="tabs" role="tablist" aria-label={props.label}>
      {props.options.map((option) => (
        <button
          type="button"
          role="tab"
          key={option.value}
          aria-selected={option.value === props.value}
          onClick={() => props.onChange(option.value)}
        >
          {option.label}
        </button>
      ))}
    </div>
  )
}

/** A text the person copies once (a new personal access token). */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <div class="copy">
      <label>
        {label}
        <input readOnly value={value} onFocus={(event) => event.currentTarget.select()} />
      </label>
      <button
        type="button"
        onClick={() =>
          navigator.clipboard?.writeText(value).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  )
}

type FieldProps = {
  label: string
  value: string
  onValue: (value: string) => void
  type?: 'text' | 'email' | 'password' | 'search' | 'number'
  required?: boolean
  min?: number
  max?: number
  step?: string
  autoComplete?: string
  minLength?: number
  maxLength?: number
  placeholder?: string
  pattern?: string
}

/** A labelled text input (the label's text is its accessible name). */
export function Field({ label, value, onValue, type = 'text', ...input }: FieldProps) {
  // Preact types each input type separately; the union of five is one of them at run time.
  const attributes = { type, ...input } as InputHTMLAttributes<HTMLInputElement>
  return (
    <label>
      {label}
      <input {...attributes} value={value} onInput={(e) => onValue(e.currentTarget.value)} />
    </label>
  )
}

/** A labelled multi-line text input. */
export function TextArea(props: {
  label: string
  value: string
  onValue: (v: string) => void
  rows?: number
  placeholder?: string
  required?: boolean
  maxLength?: number
}) {
  const { label, onValue, ...rest } = props
  return (
    <label>
      {label}
      <textarea {...rest} onInput={(e) => onValue(e.currentTarget.value)} />
    </label>
  )
}

/** A labelled select over `options`. */
export function Choice<T extends string | number>(props: {
  label: string
  value: T
  options: readonly { value: T; label: string }[]
  onValue: (value: T) => void
  required?: boolean
}) {
  return (
    <label>
      {props.label}
      <select
        value={props.value}
        required={props.required}
        onChange={(e) => {
          const raw = e.currentTarget.value
          props.onValue((typeof props.value === 'number' ? Number(raw) : raw) as T)
        }}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  )
}

/** A scrollable table with a caption-like accessible name and a header row. */
export function Table(props: {
  label: string
  headers: string[]
  children: ComponentChildren
  busy?: boolean
}) {
  return (
    <div class="table-wrap">
      <table aria-label={props.label} aria-busy={props.busy}>
        <thead>
          <tr>
            {props.headers.map((h, i) => (
              <th scope="col" key={h || i}>
                {h || <span class="sr-only">Actions</span>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  )
}
