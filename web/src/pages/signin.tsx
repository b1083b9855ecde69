import { useState } from 'preact/hooks'
import { get, signIn, signOutReason } from '../api.ts'
import { ErrorNote, Field, useAction, useLoad } from '../ui.tsx'

export function SignInPage() {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const action = useAction()
  const setup = useLoad(() => get<{ required: boolean }>('v1/useradm/setup'), [])
  const reason = signOutReason()
  return (
    <main class="centered" id="main">
      <form
        class="card narrow"
        onSubmit={(event) => {
          event.preventDefault()
          action.run(() => signIn(email.trim(), password))
        }}
      >
        <h1>Sign in to bender</h1>
        {reason && !action.error && (
          <p class="notice" role="status">
            {reason}
          </p>
        )}
        {setup.data?.required && (
          <p class="notice" role="status">
            No user exists yet. Open the one-time setup link the server printed in its log to create the first
            admin.
          </p>
        )}
        <Field label="Email" value={email} onValue={setEmail} type="email" autoComplete="username" required />
        <Field
          label="Password"
          value={password}
          onValue={setPassword}
          type="password"
          autoComplete="current-password"
          required
        />
        <ErrorNote error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
