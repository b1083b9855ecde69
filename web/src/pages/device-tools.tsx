import { useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import { type Column, type Filter, listGroups, OPERATORS } from '../devices.ts'
import { count } from '../format.ts'
import { Choice, ErrorNote, Field, TextArea, useAction, useLoad } from '../ui.tsx'

type AttributeInfo = { name: string; scope: string; count: number }
const key = (c: { scope: string; attribute?: string; name?: string }) => `${c.scope}/${c.attribute ?? c.name}`

export function useAttributes() {
  return useLoad(() => get<AttributeInfo[]>('v2/inventory/filters/attributes'), [])
}

/** Mender's filter operators over any known attribute; values of $in/$nin are comma-separated. */
export function FilterBuilder(props: {
  attributes: AttributeInfo[]
  filters: Filter[]
  onChange: (f: Filter[]) => void
}) {
  const [chosen, setAttribute] = useState('')
  const attribute = chosen || (props.attributes[0] ? key(props.attributes[0]) : '')
  const [type, setType] = useState('$eq')
  const [value, setValue] = useState('')
  const add = (event: Event) => {
    event.preventDefault()
    if (!attribute) return
    const [scope = 'inventory', ...rest] = attribute.split('/')
    const list = type === '$in' || type === '$nin'
    const parsed = list
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : type === '$exists' || type === '$nexists'
        ? true
        : value
    props.onChange([...props.filters, { scope, attribute: rest.join('/'), type, value: parsed }])
    setValue('')
  }
  const needsValue = type !== '$exists' && type !== '$nexists'
  return (
    <div class="filters">
      <form class="row" onSubmit={add} aria-label="Add a filter">
        <Choice
          label="Attribute"
          value={attribute}
          options={props.attributes.map((a) => ({ value: key(a), label: `${a.scope}: ${a.name}` }))}
          onValue={setAttribute}
        />
        <Choice label="Operator" value={type} options={OPERATORS} onValue={setType} />
        {needsValue && <Field label="Value" value={value} onValue={setValue} />}
        <button type="submit">Add filter</button>
      </form>
      {props.filters.length > 0 && (
        <ul class="chips" aria-label="Active filters">
          {props.filters.map((f, i) => (
            <li key={`${f.scope}${f.attribute}${i}`}>
              {f.scope}: {f.attribute} {OPERATORS.find((o) => o.value === f.type)?.label}{' '}
              {f.type === '$exists' || f.type === '$nexists' ? '' : String(f.value)}
              <button
                type="button"
                aria-label={`Remove filter on ${f.attribute}`}
                onClick={() => props.onChange(props.filters.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </li>
          ))}
          <li>
            <button type="button" onClick={() => props.onChange([])}>
              Clear filters
            </button>
          </li>
        </ul>
      )}
    </div>
  )
}

export function ColumnPicker(props: {
  attributes: AttributeInfo[]
  columns: Column[]
  onChange: (c: Column[]) => void
}) {
  const chosen = new Set(props.columns.map(key))
  const toggle = (a: AttributeInfo) => {
    const k = key(a)
    props.onChange(
      chosen.has(k)
        ? props.columns.filter((c) => key(c) !== k)
        : [...props.columns, { scope: a.scope, attribute: a.name }],
    )
  }
  return (
    <details class="picker">
      <summary>Columns</summary>
      <fieldset>
        <legend>Columns shown (saved to your settings)</legend>
        {props.attributes
          .filter((a) => !(a.scope === 'identity' && a.name === 'status'))
          .map((a) => (
            <label key={key(a)} class="check">
              <input type="checkbox" checked={chosen.has(key(a))} onChange={() => toggle(a)} />
              {a.scope}: {a.name} <span class="muted">({count(a.count)})</span>
            </label>
          ))}
      </fieldset>
    </details>
  )
}

/** Static groups: pick one to list its devices; delete it (its devices stay). */
export function GroupsPanel(props: {
  group: string | undefined
  onGroup: (g: string | undefined) => void
  version: number
}) {
  const groups = useLoad(listGroups, [props.version])
  const action = useAction()
  return (
    <aside class="groups" aria-label="Groups">
      <h2>Groups</h2>
      <ul>
        <li>
          <button type="button" aria-pressed={!props.group} onClick={() => props.onGroup(undefined)}>
            All devices
          </button>
        </li>
        {groups.data?.map((g) => (
          <li key={g}>
            <button type="button" aria-pressed={props.group === g} onClick={() => props.onGroup(g)}>
              {g}
            </button>
          </li>
        ))}
      </ul>
      {groups.data?.length === 0 && (
        <p class="muted">No groups yet: select devices and add them to a new group.</p>
      )}
      {props.group && (
        <button
          type="button"
          class="danger"
          onClick={() => {
            const name = props.group!
            if (!confirm(`Delete the group "${name}"? Its devices stay, without a group.`)) return
            action.run(async () => {
              await call('DELETE', `v1/inventory/groups/${encodeURIComponent(name)}`)
              props.onGroup(undefined)
              groups.reload()
            })
          }}
        >
          Delete group {props.group}
        </button>
      )}
      <ErrorNote error={groups.error ?? action.error} />
    </aside>
  )
}

/** Preauthorize a device by its identity and public key, so it is accepted on its first request. */
export function PreauthorizeForm({ onDone }: { onDone: () => void }) {
  const [identity, setIdentity] = useState('')
  const [pubkey, setPubkey] = useState('')
  const action = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    action.run(async () => {
      const identity_data: Record<string, string> = {}
      for (const line of identity.split('\n')) {
        const at = line.indexOf('=')
        if (at > 0) identity_data[line.slice(0, at).trim()] = line.slice(at + 1).trim()
      }
      if (Object.keys(identity_data).length === 0)
        throw new Error('Give the identity as lines of name=value, e.g. mac=52:54:00:12:34:56.')
      await call('POST', 'v2/devauth/devices', { body: { identity_data, pubkey: pubkey.trim() } })
      onDone()
    })
  }
  return (
    <form class="card" onSubmit={submit} aria-label="Preauthorize a device">
      <h2>Preauthorize a device</h2>
      <TextArea
        label="Identity (one name=value a line)"
        value={identity}
        onValue={setIdentity}
        rows={2}
        required
        placeholder="mac=52:54:00:12:34:56"
      />
      <TextArea
        label="Public key (PEM)"
        value={pubkey}
        onValue={setPubkey}
        rows={5}
        required
        placeholder="-----BEGIN PUBLIC KEY-----"
      />
      <ErrorNote error={action.error} />
      <button type="submit" class="primary" disabled={action.busy}>
        Preauthorize
      </button>
    </form>
  )
}
