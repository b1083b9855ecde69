import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, call, currentSession } from '../api.ts'
import type { TerminalSession } from '../terminal.ts'
import { ErrorNote, Field, Status, Time, useAction, useLoad } from '../ui.tsx'

/**
 * Troubleshooting a device through its mender-connect: its connection, a remote terminal and file
 * download. All of it goes through the device's own outgoing connection to bender.
 */

type ConnectState = {
  device_id: string
  status: 'connected' | 'disconnected' | 'unknown'
  updated_ts?: string
}

const base = (id: string) => `v1/deviceconnect/devices/${encodeURIComponent(id)}`

function useConnectState(id: string) {
  return useLoad(
    () =>
      call<ConnectState>('GET', base(id)).then(
        (reply) => reply.data,
        (err) => {
          // Never connected and never accepted since deviceconnect came: no row yet.
          if (err instanceof ApiError && err.status === 404) return undefined
          throw err
        },
      ),
    [id],
  )
}

function TerminalPanel({ id, onEnd }: { id: string; onEnd: () => void }) {
  const box = useRef<HTMLElement>(null)
  const [ended, setEnded] = useState<string>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    let session: TerminalSession | undefined
    let gone = false
    import('../terminal.ts').then(
      ({ openTerminal }) => {
        const token = currentSession()?.token
        if (gone || !box.current || !token) return
        session = openTerminal(box.current, id, token, setEnded)
      },
      (err) => setError(err),
    )
    return () => {
      gone = true
      session?.close()
    }
  }, [id])
  return (
    <div class="terminal-panel">
      <section class="terminal" ref={box} aria-label="Terminal" />
      <ErrorNote error={error} />
      <p class="row">
        {ended && <span class="muted">{ended}</span>}
        <button type="button" onClick={onEnd}>
          Close terminal
        </button>
      </p>
    </div>
  )
}

/** Fetches the file with the session's token and hands it to the browser as a download. */
async function downloadFile(id: string, path: string): Promise<string> {
  const reply = await call<Blob>('GET', `${base(id)}/download?path=${encodeURIComponent(path)}`, {
    blob: true,
  })
  const name = path.split('/').pop() || 'download'
  const link = document.createElement('a')
  link.href = URL.createObjectURL(reply.data)
  link.download = name
  link.click()
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000)
  return name
}

function DownloadForm({ id }: { id: string }) {
  const [path, setPath] = useState('')
  const [done, setDone] = useState<string>()
  const action = useAction()
  return (
    <form
      class="row"
      aria-label="Download a file from the device"
      onSubmit={(event) => {
        event.preventDefault()
        setDone(undefined)
        void action.run(async () => setDone(await downloadFile(id, path.trim())))
      }}
    >
      <Field
        label="File on the device"
        value={path}
        onValue={setPath}
        required
        placeholder="/var/log/messages"
      />
      <button type="submit" disabled={action.busy || !path.trim()}>
        Download file
      </button>
      {done && (
        <span role="status" class="success">
          Downloaded {done}.
        </span>
      )}
      <ErrorNote error={action.error} />
    </form>
  )
}

export function Troubleshoot({ id }: { id: string }) {
  const state = useConnectState(id)
  const [open, setOpen] = useState(false)
  const connected = state.data?.status === 'connected'
  return (
    <section class="card" aria-label="Troubleshoot">
      <div class="title-row">
        <h2>Troubleshoot</h2>
        <button type="button" onClick={state.reload} disabled={state.loading}>
          Check connection
        </button>
      </div>
      <ErrorNote error={state.error} />
      {!state.loading && !state.data && !state.error && (
        <p class="muted">
          mender-connect has never connected from this device: install it on the device to get a remote
          terminal and file transfer.
        </p>
      )}
      {state.data && (
        <p>
          Remote connection <Status value={state.data.status} /> since <Time value={state.data.updated_ts} />.
        </p>
      )}
      {connected && !open && (
        <p class="row">
          <button type="button" class="primary" onClick={() => setOpen(true)}>
            Open terminal
          </button>
        </p>
      )}
      {open && (
        <TerminalPanel
          id={id}
          onEnd={() => {
            setOpen(false)
            state.reload()
          }}
        />
      )}
      {connected && <DownloadForm id={id} />}
      <p class="muted small">
        From a shell: <code>mender-cli terminal {id}</code>.
      </p>
    </section>
  )
}
