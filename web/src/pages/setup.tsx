import { useEffect, useState } from 'preact/hooks'
import { call, signIn } from '../api.ts'
import { navigate } from '../router.ts'
import { ErrorNote, Field, useAction } from '../ui.tsx'

/**
 * First run: `#/setup/TOKEN` from the server's log. The token is read once and taken out of the
 * address bar and the history, so it is not left behind in the browser.
 */
export function SetupPage({ token: fromUrl }: { token: string | undefined }) {
  const [token] = useState(fromUrl)
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [repeat, setRepeat] = useState('')
  const action = useAction()
  useEffect(() => {
    if (fromUrl) navigate('#/setup', true)
  }, [fromUrl])
  if (!token) {
    return (
      <main class="centered" id="main">
        <div class="card narrow">
          <h1>Set up bender</h1>
          <p>
            This page needs the one-time setup link the server printed in its log when it started without any
            user. Restart the server to print a new one, or <a href="#/">sign in</a> if an account exists.
          </p>
        </div>
      </main>
    )
  }
  const submit = (event: Event) => {
    event.preventDefault()
    action.run(async () => {
      if (password !== repeat) throw new Error('The two passwords differ.')
      await call('POST', 'v1/useradm/setup', { body: { token, email: email.trim(), password } })
      await signIn(email.trim(), password)
      navigate('#/dashboard', true)
    })
  }
  return (
    <main class="centered" id="main">
      <form class="card narrow" onSubmit={submit}>
        <h1>Create the first admin</h1>
        <p class="muted">This account manages every device, release and deployment of this server.</p>
        <Field label="Email" value={email} onValue={setEmail} type="email" autoComplete="username" required />
        <Field
          label="Password (8 characters or more)"
          value={password}
          onValue={setPassword}
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
        />
        <Field
          label="Password again"
          value={repeat}
          onValue={setRepeat}
          type="password"
          autoComplete="new-password"
          required
        />
        <ErrorNote error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Create admin and sign in
        </button>
      </form>
    </main>
  )
}
