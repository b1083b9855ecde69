import { useEffect, useState } from 'preact/hooks'
import { currentSession, onSessionChange, signOut } from './api.ts'
import { startLiveUpdates } from './live.ts'
import { DashboardPage } from './pages/dashboard.tsx'
import { DeploymentPage } from './pages/deployment.tsx'
import { DeploymentsPage } from './pages/deployments.tsx'
import { DevicePage } from './pages/device.tsx'
import { DevicesPage } from './pages/devices.tsx'
import { ReleasePage } from './pages/release.tsx'
import { ReleasesPage } from './pages/releases.tsx'
import { SettingsPage } from './pages/settings.tsx'
import { SetupPage } from './pages/setup.tsx'
import { SignInPage } from './pages/signin.tsx'
import { href, type Route, useRoute } from './router.ts'

const SECTIONS = [
  { path: 'dashboard', label: 'Dashboard' },
  { path: 'devices', label: 'Devices' },
  { path: 'releases', label: 'Releases' },
  { path: 'deployments', label: 'Deployments' },
  { path: 'settings', label: 'Settings' },
]

function useSession() {
  const [session, setSession] = useState(currentSession)
  useEffect(() => onSessionChange(() => setSession(currentSession())), [])
  return session
}

function Page({ route }: { route: Route }) {
  const [section = 'dashboard', id] = route.parts
  switch (section) {
    case 'devices':
      return id ? <DevicePage id={id} /> : <DevicesPage route={route} />
    case 'releases':
      return id ? <ReleasePage name={id} /> : <ReleasesPage />
    case 'deployments':
      return id ? <DeploymentPage id={id} /> : <DeploymentsPage route={route} />
    case 'settings':
      return <SettingsPage />
    default:
      return <DashboardPage />
  }
}

export function App() {
  const session = useSession()
  const route = useRoute()
  useEffect(startLiveUpdates, [])
  const section = route.parts[0] ?? 'dashboard'
  useEffect(() => {
    const label = SECTIONS.find((s) => s.path === section)?.label
    document.title = session && label ? `${label} · bender` : 'bender'
  }, [section, session])
  if (section === 'setup') return <SetupPage token={route.parts[1]} />
  if (!session) return <SignInPage />
  return (
    <div class="shell">
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">bender</span>
        <nav aria-label="Sections">
          {SECTIONS.map((s) => (
            <a key={s.path} href={href(s.path)} aria-current={s.path === section ? 'page' : undefined}>
              {s.label}
            </a>
          ))}
        </nav>
        <span class="account">
          <span class="muted">{session.email}</span>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  )
}
