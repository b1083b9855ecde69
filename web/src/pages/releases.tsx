import { useState } from 'preact/hooks'
import { call } from '../api.ts'
import { type Artifact, generateArtifact, type Release, uploadArtifact } from '../artifacts.ts'
import { bytes, count } from '../format.ts'
import { href } from '../router.ts'
import {
  Choice,
  Empty,
  ErrorNote,
  Field,
  Loading,
  Pager,
  Progress,
  Table,
  Time,
  useAction,
  useLoad,
} from '../ui.tsx'

const PER_PAGE = 20

function Upload({ onDone }: { onDone: (a: Artifact) => void }) {
  const [file, setFile] = useState<File>()
  const [sent, setSent] = useState(0)
  const [stage, setStage] = useState<'idle' | 'uploading' | 'checking'>('idle')
  const [done, setDone] = useState<Artifact>()
  const action = useAction()
  const submit = (event: Event) => {
    event.preventDefault()
    if (!file) return
    setDone(undefined)
    setSent(0)
    action
      .run(async () => {
        const artifact = await uploadArtifact(file, setSent, setStage)
        setDone(artifact)
        onDone(artifact)
      })
      .finally(() => setStage('idle'))
  }
  return (
    <form class="card" onSubmit={submit} aria-label="Upload an artifact">
      <h2>Upload an artifact</h2>
      <label>
        Artifact file (.mender)
        <input type="file" accept=".mender" required onChange={(e) => setFile(e.currentTarget.files?.[0])} />
      </label>
      {stage !== 'idle' && file && (
        <div class="upload-progress" aria-live="polite">
          <Progress value={stage === 'checking' ? file.size : sent} max={file.size} label="Upload progress" />
          <span>
            {stage === 'uploading'
              ? `Uploading: ${bytes(sent)} of ${bytes(file.size)} (${Math.floor((sent / Math.max(file.size, 1)) * 100)}%)`
              : 'Uploaded; the server is checking the artifact…'}
          </span>
        </div>
      )}
      {done && (
        <p class="success" role="status">
          Uploaded {done.name} ({bytes(done.size)}).
        </p>
      )}
      <ErrorNote error={action.error} />
      <button type="submit" class="primary" disabled={action.busy || !file}>
        Upload
      </button>
    </form>
  )
}

function Generate({ onDone }: { onDone: () => void }) {
  const [form, setForm] = useState({ name: '', description: '', deviceTypes: '', destDir: '/opt' })
  const [file, setFile] = useState<File>()
  const action = useAction()
  const field = (name: keyof typeof form, label: string, extra: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input
        value={form[name]}
        onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
        {...extra}
      />
    </label>
  )
  return (
    <form
      class="card"
      aria-label="Generate a single-file artifact"
      onSubmit={(event) => {
        event.preventDefault()
        if (file) action.run(() => generateArtifact({ ...form, file })).then((ok) => ok && onDone())
      }}
    >
      <h2>Make an artifact from one file</h2>
      {field('name', 'Artifact name', { required: true })}
      {field('deviceTypes', 'Device types (comma-separated)', { required: true })}
      {field('destDir', 'Install into directory', { required: true })}
      {field('description', 'Description')}
      <label>
        File
        <input type="file" required onChange={(e) => setFile(e.currentTarget.files?.[0])} />
      </label>
      <ErrorNote error={action.error} />
      <button type="submit" disabled={action.busy}>
        Generate
      </button>
    </form>
  )
}

const SORTS = [
  { value: 'name:asc', label: 'Name' },
  { value: 'modified:desc', label: 'Newest first' },
  { value: 'artifacts_count:desc', label: 'Most artifacts' },
]

export function ReleasesPage() {
  const [page, setPage] = useState(1)
  const [name, setName] = useState('')
  const [search, setSearch] = useState('')
  const [sort, setSort] = useState('modified:desc')
  const [adding, setAdding] = useState<'upload' | 'generate'>()
  const list = useLoad(async () => {
    const q = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE), sort })
    if (search) q.set('name', search)
    const reply = await call<Release[]>('GET', `v2/deployments/deployments/releases?${q}`)
    return { releases: reply.data, total: Number(reply.headers.get('x-total-count') ?? reply.data.length) }
  }, [page, search, sort])
  return (
    <div class="stack">
      <div class="title-row">
        <h1>Releases</h1>
        <span class="actions">
          <button
            type="button"
            aria-expanded={adding === 'upload'}
            onClick={() => setAdding(adding === 'upload' ? undefined : 'upload')}
          >
            Upload an artifact
          </button>
          <button
            type="button"
            aria-expanded={adding === 'generate'}
            onClick={() => setAdding(adding === 'generate' ? undefined : 'generate')}
          >
            Make an artifact from a file
          </button>
        </span>
      </div>
      {adding === 'upload' && <Upload onDone={() => list.reload()} />}
      {adding === 'generate' && (
        <Generate
          onDone={() => {
            setAdding(undefined)
            list.reload()
          }}
        />
      )}
      <div class="toolbar">
        <form
          aria-label="Search releases"
          class="row"
          onSubmit={(e) => {
            e.preventDefault()
            setSearch(name.trim())
            setPage(1)
          }}
        >
          <Field label="Release name contains" value={name} onValue={setName} type="search" />
          <button type="submit">Search</button>
        </form>
        <Choice label="Sort by" value={sort} options={SORTS} onValue={setSort} />
      </div>
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading what="releases" />}
      {list.data?.total === 0 && (
        <Empty>
          {search
            ? 'No release has that name.'
            : 'No releases yet: upload an artifact made with mender-artifact, or make one from a single file.'}
        </Empty>
      )}
      {list.data && list.data.releases.length > 0 && (
        <Table
          label="Releases"
          headers={['Release', 'Artifacts', 'Device types', 'Size', 'Modified', 'Tags']}
        >
          {list.data.releases.map((r) => (
            <tr key={r.name}>
              <td>
                <a href={href('releases', r.name)}>{r.name}</a>
              </td>
              <td>{count(r.artifacts_count)}</td>
              <td>{[...new Set(r.artifacts.flatMap((a) => a.device_types_compatible))].join(', ')}</td>
              <td>{bytes(r.artifacts.reduce((sum, a) => sum + a.size, 0))}</td>
              <td>
                <Time value={r.modified} />
              </td>
              <td>{r.tags.join(', ') || '—'}</td>
            </tr>
          ))}
        </Table>
      )}
      {list.data && list.data.total > 0 && (
        <Pager page={page} perPage={PER_PAGE} total={list.data.total} onPage={setPage} label="Releases" />
      )}
    </div>
  )
}
