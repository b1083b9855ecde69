import { useEffect, useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import type { Deployment, DeviceDeployment } from '../deployments.ts'
import {
  type AuthDevice,
  type AuthSet,
  decommission,
  dismissAuth,
  type InventoryDevice,
  identityText,
  setAuthStatus,
  show,
} from '../devices.ts'
import { useLive } from '../live.ts'
import { href, navigate } from '../router.ts'
import {
  Empty,
  ErrorNote,
  Field,
  Loading,
  Status,
  Table,
  TextArea,
  Time,
  useAction,
  useLoad,
} from '../ui.tsx'
import { DeviceDeploymentCells, LogViewer } from './log.tsx'
import { Troubleshoot } from './troubleshoot.tsx'

type HistoryItem = { id: string; deployment?: Deployment; device: DeviceDeployment }

/** SHA-256 of the key's DER bytes, as `ssh-keygen -l` shows fingerprints. */
async function fingerprint(pem: string): Promise<string> {
  const base64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der))
  return `SHA256:${btoa(String.fromCharCode(...digest)).replace(/=+$/, '')}`
}

function Fingerprint({ pem }: { pem: string }) {
  const [text, setText] = useState('…')
  useEffect(() => {
    fingerprint(pem).then(setText, () => setText('not a PEM key'))
  }, [pem])
  return <code class="fingerprint">{text}</code>
}

function AuthSets({ device, onChange }: { device: AuthDevice; onChange: () => void }) {
  const action = useAction()
  const act = (set: AuthSet, what: 'accepted' | 'rejected' | 'dismiss') =>
    action
      .run(() =>
        what === 'dismiss' ? dismissAuth(device.id, set.id) : setAuthStatus(device.id, set.id, what),
      )
      .then((ok) => ok && onChange())
  return (
    <section class="card" aria-labelledby="auth-sets">
      <h2 id="auth-sets">Authentication</h2>
      <ul class="plain">
        {device.auth_sets.map((set) => (
          <li key={set.id} class="auth-set">
            <Status value={set.status} /> key <Fingerprint pem={set.pubkey} />, asked <Time value={set.ts} />
            <span class="actions">
              {set.status !== 'accepted' && (
                <button type="button" disabled={action.busy} onClick={() => act(set, 'accepted')}>
                  Accept
                </button>
              )}
              {set.status !== 'rejected' && (
                <button type="button" disabled={action.busy} onClick={() => act(set, 'rejected')}>
                  Reject
                </button>
              )}
              <button type="button" disabled={action.busy} onClick={() => act(set, 'dismiss')}>
                Dismiss
              </button>
            </span>
          </li>
        ))}
      </ul>
      <ErrorNote error={action.error} />
    </section>
  )
}

function Tags({ device, onChange }: { device: InventoryDevice; onChange: () => void }) {
  const current = device.attributes.filter((a) => a.scope === 'tags')
  const [text, setText] = useState(current.map((a) => `${a.name}=${show(a.value)}`).join('\n'))
  const action = useAction()
  const save = (event: Event) => {
    event.preventDefault()
    const tags = text
      .split('\n')
      .map((line) => line.split('='))
      .filter(([name]) => name?.trim())
      .map(([name, ...value]) => ({ name: name!.trim(), value: value.join('=').trim() }))
    action
      .run(() => call('PUT', `v1/inventory/devices/${device.id}/tags`, { body: tags }))
      .then((ok) => ok && onChange())
  }
  return (
    <form class="card" onSubmit={save} aria-labelledby="tags">
      <h2 id="tags">Tags</h2>
      <TextArea label="Tags (one name=value a line)" value={text} onValue={setText} rows={3} />
      <ErrorNote error={action.error} />
      <button type="submit" disabled={action.busy}>
        Save tags
      </button>
    </form>
  )
}

function GroupEditor({ device, onChange }: { device: InventoryDevice; onChange: () => void }) {
  const group = device.attributes.find((a) => a.scope === 'system' && a.name === 'group')?.value as
    | string
    | undefined
  const [name, setName] = useState(group ?? '')
  const action = useAction()
  return (
    <form
      class="row"
      onSubmit={(event) => {
        event.preventDefault()
        const target = name.trim()
        action
          .run(() =>
            target
              ? call('PUT', `v1/inventory/devices/${device.id}/group`, { body: { group: target } })
              : group
                ? call('DELETE', `v1/inventory/devices/${device.id}/group/${encodeURIComponent(group)}`)
                : Promise.resolve(),
          )
          .then((ok) => ok && onChange())
      }}
    >
      <Field label="Group" value={name} onValue={setName} placeholder="none" />
      <button type="submit" disabled={action.busy}>
        Set group
      </button>
      <ErrorNote error={action.error} />
    </form>
  )
}

function History({ id }: { id: string }) {
  const history = useLoad(
    () => get<HistoryItem[]>(`v1/deployments/deployments/devices/${id}?per_page=20`),
    [id],
  )
  const [log, setLog] = useState<string>()
  useLive((e) => e.subject === id && e.type === 'device-deployment-status-changed', history.reload)
  return (
    <section class="card" aria-labelledby="history">
      <h2 id="history">Deployments</h2>
      <ErrorNote error={history.error} />
      {history.data?.length === 0 && <Empty>No deployment has reached this device yet.</Empty>}
      {history.data && history.data.length > 0 && (
        <Table
          label="Deployment history"
          headers={['Deployment', 'Artifact', 'Status', 'Started', 'Finished', 'Log']}
        >
          {history.data.map((item) => (
            <tr key={item.id}>
              <td>
                {item.deployment ? (
                  <a href={href('deployments', item.deployment.id)}>{item.deployment.name}</a>
                ) : (
                  '—'
                )}
              </td>
              <td>{item.deployment?.artifact_name ?? '—'}</td>
              <DeviceDeploymentCells
                device={item.device}
                onLog={item.deployment ? () => setLog(item.deployment!.id) : undefined}
              />
            </tr>
          ))}
        </Table>
      )}
      {log && <LogViewer deploymentId={log} deviceId={id} onClose={() => setLog(undefined)} />}
    </section>
  )
}

function Inventory({ device }: { device: InventoryDevice }) {
  const scopes = ['identity', 'inventory', 'system']
  return (
    <section class="card" aria-labelledby="inventory">
      <h2 id="inventory">Inventory</h2>
      {scopes.map((scope) => {
        const attributes = device.attributes
          .filter((a) => a.scope === scope)
          .sort((a, b) => a.name.localeCompare(b.name))
        return (
          <div key={scope}>
            <h3>{scope}</h3>
            {attributes.length === 0 ? (
              <p class="muted">Nothing reported yet: the device sends its inventory after it is accepted.</p>
            ) : (
              <dl class="attributes">
                {attributes.map((a) => (
                  <div key={a.name}>
                    <dt>{a.name}</dt>
                    <dd>
                      {a.name.endsWith('_ts') || a.name === 'check_in_time' ? (
                        <Time value={String(a.value)} />
                      ) : (
                        show(a.value)
                      )}
                    </dd>
                  </div>
                ))}
              </dl>
            )}
          </div>
        )
      })}
    </section>
  )
}

export function DevicePage({ id }: { id: string }) {
  const auth = useLoad(() => get<AuthDevice>(`v2/devauth/devices/${id}`), [id])
  const inventory = useLoad(
    () =>
      get<InventoryDevice>(`v1/inventory/devices/${id}`).catch(
        () => ({ id, attributes: [] }) as InventoryDevice,
      ),
    [id],
  )
  const action = useAction()
  const reload = () => {
    auth.reload()
    inventory.reload()
  }
  useLive((e) => e.subject === id && e.type !== 'device-deployment-status-changed', reload)
  if (auth.error) return <ErrorNote error={auth.error} />
  if (!auth.data || !inventory.data) return <Loading what="the device" />
  const device = auth.data
  return (
    <div class="stack">
      <p>
        <a href={href('devices')}>← Devices</a>
      </p>
      <div class="title-row">
        <h1>{identityText(device.identity_data, device.id)}</h1>
        <button
          type="button"
          class="danger"
          onClick={() =>
            confirm('Decommission this device? It is removed everywhere and must authenticate again.') &&
            action.run(() => decommission(id)).then((ok) => ok && navigate(href('devices')))
          }
        >
          Decommission
        </button>
      </div>
      <ErrorNote error={action.error} />
      <p>
        <Status value={device.status} /> Device id <code>{device.id}</code>, first seen{' '}
        <Time value={device.created_ts} />, last check-in <Time value={device.check_in_time} />.
      </p>
      <div class="grid2">
        <AuthSets device={device} onChange={reload} />
        <div class="stack">
          <div class="card">
            <h2>Group</h2>
            <GroupEditor key={inventory.data.attributes.length} device={inventory.data} onChange={reload} />
          </div>
          <Tags device={inventory.data} onChange={reload} />
        </div>
      </div>
      {device.status === 'accepted' && <Troubleshoot id={id} />}
      <History id={id} />
      <Inventory device={inventory.data} />
    </div>
  )
}
