import { useState } from 'preact/hooks'
import { call, currentSession, get } from '../api.ts'
import { Choice, CopyField, Empty, ErrorNote, Field, Table, Time, useAction, useLoad } from '../ui.tsx'

type User = { id: string; email: string; created_ts: string; login_ts?: string }
type Token = { id: string; name: string; created_ts: string; expiration_date?: string; last_used?: string }

function Users() {
  const users = useLoad(() => get<User[]>('v1/useradm/users'), [])
  const me = useLoad(() => get<User>('v1/useradm/users/me'), [])
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const action = useAction()
  const add = (event: Event) => {
    event.preventDefault()
    action
      .run(() => call('POST', 'v1/useradm/users', { body: { email: email.trim(), password } }))
      .then((ok) => {
        if (!ok) return
        setEmail('')
        setPassword('')
        users.reload()
      })
  }
  return (
    <section class="card" aria-labelledby="users">
      <h2 id="users">Users</h2>
      <ErrorNote error={users.error} />
      <ul class="plain">
        {users.data?.map((u) => (
          <li key={u.id} class="user">
            <span>
              {u.email} {u.id === me.data?.id && <span class="muted">(you)</span>}
            </span>
            <span class="muted small">
              last sign-in <Time value={u.login_ts} />
            </span>
            {u.id !== me.data?.id && (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  confirm(`Remove ${u.email}?`) &&
                  action.run(() => call('DELETE', `v1/useradm/users/${u.id}`)).then(() => users.reload())
                }
              >
                Remove {u.email}
              </button>
            )}
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={add} aria-label="Add a user">
        <Field label="Email" value={email} onValue={setEmail} type="email" required />
        <Field
          label="Password"
          value={password}
          onValue={setPassword}
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
        />
        <button type="submit" disabled={action.busy}>
          Add user
        </button>
      </form>
      <ErrorNote error={action.error} />
    </section>
  )
}

function Password() {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [done, setDone] = useState(false)
  const action = useAction()
  return (
    <form
      class="card"
      aria-labelledby="password"
      onSubmit={(event) => {
        event.preventDefault()
        setDone(false)
        action
          .run(() =>
            call('PUT', 'v2/useradm/users/me', { body: { current_password: current, password: next } }),
          )
          .then((ok) => {
            if (!ok) return
            setDone(true)
            setCurrent('')
            setNext('')
          })
      }}
    >
      <h2 id="password">Change your password</h2>
      <Field
        label="Current password"
        value={current}
        onValue={setCurrent}
        type="password"
        autoComplete="current-password"
        required
      />
      <Field
        label="New password (8 characters or more)"
        value={next}
        onValue={setNext}
        type="password"
        autoComplete="new-password"
        required
        minLength={8}
      />
      {done && (
        <p class="success" role="status">
          Your password is changed.
        </p>
      )}
      <ErrorNote error={action.error} />
      <button type="submit" disabled={action.busy}>
        Change password
      </button>
    </form>
  )
}

const EXPIRY = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: 'a year' },
]

function Tokens() {
  const tokens = useLoad(() => get<Token[]>('v1/useradm/settings/tokens'), [])
  const [name, setName] = useState('')
  const [days, setDays] = useState('30')
  const [made, setMade] = useState<string>()
  const action = useAction()
  const create = (event: Event) => {
    event.preventDefault()
    action
      .run(async () => {
        const expires_in = Number(days) * 86400
        setMade(
          (
            await call<string>('POST', 'v1/useradm/settings/tokens', {
              body: { name: name.trim(), expires_in },
            })
          ).data,
        )
        setName('')
      })
      .then(() => tokens.reload())
  }
  return (
    <section class="card" aria-labelledby="tokens">
      <h2 id="tokens">Personal access tokens</h2>
      <p class="muted">
        For scripts and mender-cli: send one as <code>Authorization: Bearer …</code>.
      </p>
      <form class="row" onSubmit={create} aria-label="Create a personal access token">
        <Field label="Token name" value={name} onValue={setName} required maxLength={128} />
        <Choice label="Expires after" value={days} options={EXPIRY} onValue={setDays} />
        <button type="submit" disabled={action.busy}>
          Create token
        </button>
      </form>
      {made && (
        <div class="notice" role="status">
          <p>Copy the new token now: it is not shown again.</p>
          <CopyField label="New token" value={made} />
        </div>
      )}
      <ErrorNote error={action.error ?? tokens.error} />
      {tokens.data?.length === 0 && <Empty>No personal access tokens.</Empty>}
      {tokens.data && tokens.data.length > 0 && (
        <Table label="Personal access tokens" headers={['Name', 'Created', 'Expires', 'Last used', '']}>
          {tokens.data.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                <Time value={t.created_ts} />
              </td>
              <td>{t.expiration_date ? <Time value={t.expiration_date} /> : 'never'}</td>
              <td>
                <Time value={t.last_used} />
              </td>
              <td>
                <button
                  type="button"
                  class="danger"
                  aria-label={`Revoke ${t.name}`}
                  onClick={() =>
                    action
                      .run(() => call('DELETE', `v1/useradm/settings/tokens/${t.id}`))
                      .then(() => tokens.reload())
                  }
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  )
}

export function SettingsPage() {
  return (
    <div class="stack">
      <h1>Settings</h1>
      <p>
        Signed in as <strong>{currentSession()?.email}</strong>.
      </p>
      <div class="grid2">
        <Password />
        <Tokens />
      </div>
      <Users />
    </div>
  )
}
