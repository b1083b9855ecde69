import { useEffect, useState } from 'preact/hooks'
import {
  addToGroup,
  attr,
  type BulkAction,
  bulk,
  type Column,
  DEFAULT_COLUMNS,
  type DeviceStatus,
  deviceIdentity,
  type Filter,
  type InventoryDevice,
  removeFromGroup,
  type Sort,
  STATUSES,
  saveColumns,
  savedColumns,
  searchDevices,
  show,
} from '../devices.ts'
import { count, plural } from '../format.ts'
import { isDeviceEvent, useLive } from '../live.ts'
import { href, type Route } from '../router.ts'
import { Empty, ErrorNote, Field, Loading, Pager, Status, Tabs, Time, useAction, useLoad } from '../ui.tsx'
import { ColumnPicker, FilterBuilder, GroupsPanel, PreauthorizeForm, useAttributes } from './device-tools.tsx'

const PER_PAGE = 20
const TIME_ATTRIBUTES = new Set(['check_in_time', 'updated_ts', 'created_ts'])
const LABELS: Record<string, string> = {
  'system/check_in_time': 'Last check-in',
  'system/created_ts': 'First seen',
  'system/updated_ts': 'Updated',
  'inventory/artifact_name': 'Software',
}
function label(c: Column): string {
  const text = LABELS[`${c.scope}/${c.attribute}`] ?? c.attribute.replace(/_/g, ' ')
  return text[0]!.toUpperCase() + text.slice(1)
}

function Cell({ value, column }: { value: unknown; column: Column }) {
  if (column.scope === 'system' && TIME_ATTRIBUTES.has(column.attribute) && typeof value === 'string')
    return <Time value={value} />
  return <>{show(value)}</>
}

function BulkBar(props: {
  selected: string[]
  group: string | undefined
  onDone: (groupsChanged: boolean) => void
}) {
  const action = useAction()
  const [group, setGroup] = useState('')
  const n = props.selected.length
  const act = (what: BulkAction) => {
    if (
      what === 'decommission' &&
      !confirm(`Decommission ${plural(n, 'device')}? This removes them everywhere.`)
    )
      return
    action.run(() => bulk(what, props.selected)).then((ok) => ok && props.onDone(false))
  }
  return (
    <section class="bulk" aria-label="Selected devices">
      <strong>{plural(n, 'device')} selected</strong>
      <button type="button" disabled={action.busy} onClick={() => act('accept')}>
        Accept
      </button>
      <button type="button" disabled={action.busy} onClick={() => act('reject')}>
        Reject
      </button>
      <button type="button" disabled={action.busy} onClick={() => act('dismiss')}>
        Dismiss
      </button>
      <button type="button" class="danger" disabled={action.busy} onClick={() => act('decommission')}>
        Decommission
      </button>
      <form
        class="row"
        onSubmit={(event) => {
          event.preventDefault()
          const name = group.trim()
          if (name) action.run(() => addToGroup(name, props.selected)).then((ok) => ok && props.onDone(true))
        }}
      >
        <Field
          label="Group"
          value={group}
          onValue={setGroup}
          pattern="[A-Za-z0-9_\-]+"
          placeholder="new or existing"
        />
        <button type="submit" disabled={action.busy}>
          Add to group
        </button>
      </form>
      {props.group && (
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            action
              .run(() => removeFromGroup(props.group!, props.selected))
              .then((ok) => ok && props.onDone(true))
          }
        >
          Remove from {props.group}
        </button>
      )}
      <ErrorNote error={action.error} />
    </section>
  )
}

function SortButton(props: { column: Column; sort: Sort | undefined; onSort: (s: Sort) => void }) {
  const { column, sort } = props
  const active = sort && sort.scope === column.scope && sort.attribute === column.attribute
  const order = active && sort.order === 'asc' ? 'desc' : 'asc'
  return (
    <button type="button" class="sort" onClick={() => props.onSort({ ...column, order })}>
      {label(column)}
      <span aria-hidden="true">{active ? (sort.order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
    </button>
  )
}

function DeviceTable(props: {
  devices: InventoryDevice[]
  status: DeviceStatus
  columns: Column[]
  busy: boolean
  sort: Sort | undefined
  onSort: (sort: Sort) => void
  selected: Set<string>
  onSelect: (selected: Set<string>) => void
}) {
  const { devices, status, columns, sort, selected, onSelect } = props
  const allChosen = devices.every((d) => selected.has(d.id))
  const toggle = (id: string) => {
    const next = new Set(selected)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    onSelect(next)
  }
  const sortedBy = (c: Column) =>
    sort && sort.attribute === c.attribute && sort.scope === c.scope
      ? sort.order === 'asc'
        ? 'ascending'
        : 'descending'
      : undefined
  return (
    <div class="table-wrap">
      <table aria-busy={props.busy} aria-label={`${status} devices`}>
        <thead>
          <tr>
            <th scope="col">
              <input
                type="checkbox"
                aria-label="Select every device on this page"
                checked={allChosen}
                onChange={() => onSelect(allChosen ? new Set() : new Set(devices.map((d) => d.id)))}
              />
            </th>
            <th scope="col">Device</th>
            {columns.map((c) => (
              <th scope="col" key={`${c.scope}/${c.attribute}`} aria-sort={sortedBy(c)}>
                <SortButton column={c} sort={sort} onSort={props.onSort} />
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {devices.map((d) => (
            <tr key={d.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${deviceIdentity(d)}`}
                  checked={selected.has(d.id)}
                  onChange={() => toggle(d.id)}
                />
              </td>
              <td>
                <a href={href('devices', d.id)}>{deviceIdentity(d)}</a>
                {status !== attr(d, 'identity', 'status') && (
                  <Status value={String(attr(d, 'identity', 'status'))} />
                )}
              </td>
              {columns.map((c) => (
                <td key={`${c.scope}/${c.attribute}`}>
                  <Cell value={attr(d, c.scope, c.attribute)} column={c} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

const EMPTY: Record<DeviceStatus, string> = {
  accepted: 'No accepted devices. Accept pending devices, or point a device at this server',
  pending: 'No device is waiting for a decision. Point a device at this server',
  rejected: 'No rejected devices.',
  preauthorized: 'No preauthorized devices. Preauthorize one with its identity and key.',
  noauth: 'No devices without authentication.',
}

export function DevicesPage({ route }: { route: Route }) {
  const [status, setStatus] = useState<DeviceStatus>(
    (route.query.get('status') as DeviceStatus) ?? 'accepted',
  )
  const [page, setPage] = useState(1)
  const [group, setGroup] = useState<string>()
  const [filters, setFilters] = useState<Filter[]>([])
  const [text, setText] = useState('')
  const [query, setQuery] = useState('')
  const [sort, setSort] = useState<Sort>()
  const [columns, setColumns] = useState<Column[]>(DEFAULT_COLUMNS)
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [groupsVersion, setGroupsVersion] = useState(0)
  const [preauthorizing, setPreauthorizing] = useState(false)
  const attributes = useAttributes()
  const columnsSave = useAction()
  useEffect(() => {
    savedColumns().then(setColumns, () => {})
  }, [])
  const list = useLoad(
    () => searchDevices({ page, perPage: PER_PAGE, status, group, filters, text: query, sort, columns }),
    [page, status, group, filters, query, sort, columns],
  )
  useLive(isDeviceEvent, list.reload)
  const reset = () => {
    setPage(1)
    setSelected(new Set())
  }
  const devices = list.data?.devices ?? []
  return (
    <div class="with-side">
      <GroupsPanel
        group={group}
        version={groupsVersion}
        onGroup={(g) => {
          setGroup(g)
          reset()
        }}
      />
      <section class="grow">
        <div class="title-row">
          <h1>Devices{group ? ` in ${group}` : ''}</h1>
          <button
            type="button"
            onClick={() => setPreauthorizing(!preauthorizing)}
            aria-expanded={preauthorizing}
          >
            Preauthorize a device
          </button>
        </div>
        {preauthorizing && (
          <PreauthorizeForm
            onDone={() => {
              setPreauthorizing(false)
              setStatus('preauthorized')
              reset()
            }}
          />
        )}
        <Tabs
          label="Device status"
          value={status}
          options={STATUSES.map((s) => ({ value: s, label: s[0]!.toUpperCase() + s.slice(1) }))}
          onChange={(s) => {
            setStatus(s)
            reset()
          }}
        />
        <div class="toolbar">
          <form
            aria-label="Search devices"
            class="row"
            onSubmit={(event) => {
              event.preventDefault()
              setQuery(text)
              reset()
            }}
          >
            <Field
              label="Search devices"
              value={text}
              onValue={setText}
              type="search"
              placeholder="any word of a device"
            />
            <button type="submit">Search</button>
          </form>
          <ColumnPicker
            attributes={attributes.data ?? []}
            columns={columns}
            onChange={(c) => {
              setColumns(c)
              columnsSave.run(() => saveColumns(c))
            }}
          />
        </div>
        <FilterBuilder
          attributes={attributes.data ?? []}
          filters={filters}
          onChange={(f) => {
            setFilters(f)
            reset()
          }}
        />
        <ErrorNote error={columnsSave.error ?? attributes.error} />
        {selected.size > 0 && (
          <BulkBar
            selected={[...selected]}
            group={group}
            onDone={(groupsChanged) => {
              if (groupsChanged) setGroupsVersion((v) => v + 1)
              setSelected(new Set())
              list.reload()
            }}
          />
        )}
        <ErrorNote error={list.error} />
        {list.loading && !list.data && <Loading what="devices" />}
        {list.data && devices.length === 0 && (
          <Empty>
            {filters.length > 0 || query || group ? (
              'No device matches these filters. Remove a filter or change the search.'
            ) : (
              <>
                {EMPTY[status]}
                {status === 'accepted' || status === 'pending'
                  ? `: set ServerURL to ${location.origin} in the device's mender.conf.`
                  : ''}
              </>
            )}
          </Empty>
        )}
        {devices.length > 0 && (
          <DeviceTable
            devices={devices}
            status={status}
            columns={columns}
            busy={list.loading}
            sort={sort}
            onSort={(s) => {
              setSort(s)
              setPage(1)
            }}
            selected={selected}
            onSelect={setSelected}
          />
        )}
        {list.data && list.data.total > 0 && (
          <Pager
            page={page}
            perPage={PER_PAGE}
            total={list.data.total}
            onPage={(p) => {
              setPage(p)
              setSelected(new Set())
            }}
            label="Devices"
          />
        )}
        <p class="muted small">{list.data ? `${count(list.data.total)} ${status} devices match.` : ''}</p>
      </section>
    </div>
  )
}
