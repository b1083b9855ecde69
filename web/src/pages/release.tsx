import { useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import { type Artifact, payloadTypes, type Release } from '../artifacts.ts'
import { bytes } from '../format.ts'
import { href, navigate } from '../router.ts'
import { Empty, ErrorNote, Field, Loading, TextArea, Time, useAction, useLoad } from '../ui.tsx'

const base = (name: string) => `v2/deployments/deployments/releases/${encodeURIComponent(name)}`

function Pairs({ value }: { value: Record<string, unknown> | undefined }) {
  const entries = Object.entries(value ?? {})
  if (entries.length === 0) return <span class="muted">none</span>
  return (
    <>
      {entries.map(([k, v]) => (
        <code key={k} class="pair">
          {k}={Array.isArray(v) ? v.join('|') : String(v)}
        </code>
      ))}
    </>
  )
}

function ArtifactCard({ artifact, onChange }: { artifact: Artifact; onChange: () => void }) {
  const [description, setDescription] = useState(artifact.description)
  const action = useAction()
  const download = () =>
    action.run(async () => {
      const link = await get<{ uri: string }>(`v1/deployments/artifacts/${artifact.id}/download`)
      location.assign(link.uri)
    })
  return (
    <article class="card" aria-label={`Artifact for ${artifact.device_types_compatible.join(', ')}`}>
      <h3>
        {artifact.name} <span class="muted">for {artifact.device_types_compatible.join(', ')}</span>
      </h3>
      <dl class="attributes">
        <div>
          <dt>Payload types</dt>
          <dd>{payloadTypes(artifact).join(', ')}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{bytes(artifact.size)}</dd>
        </div>
        <div>
          <dt>Modified</dt>
          <dd>
            <Time value={artifact.modified} />
          </dd>
        </div>
        <div>
          <dt>Provides</dt>
          <dd>
            <Pairs value={artifact.artifact_provides} />
          </dd>
        </div>
        <div>
          <dt>Depends</dt>
          <dd>
            <Pairs value={artifact.artifact_depends} />
          </dd>
        </div>
        <div>
          <dt>Signed</dt>
          <dd>{artifact.signed ? 'yes' : 'no'}</dd>
        </div>
      </dl>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault()
          action
            .run(() => call('PUT', `v1/deployments/artifacts/${artifact.id}`, { body: { description } }))
            .then((ok) => ok && onChange())
        }}
      >
        <Field label="Description" value={description} onValue={setDescription} />
        <button type="submit" disabled={action.busy}>
          Save description
        </button>
      </form>
      <div class="actions">
        <button type="button" onClick={download} disabled={action.busy}>
          Download
        </button>
        <button
          type="button"
          class="danger"
          disabled={action.busy}
          onClick={() =>
            confirm(`Delete this artifact of ${artifact.name}?`) &&
            action
              .run(() => call('DELETE', `v1/deployments/artifacts/${artifact.id}`))
              .then((ok) => ok && onChange())
          }
        >
          Delete artifact
        </button>
      </div>
      <ErrorNote error={action.error} />
    </article>
  )
}

function Notes({ release, onChange }: { release: Release; onChange: () => void }) {
  const [notes, setNotes] = useState(release.notes)
  const [tags, setTags] = useState(release.tags.join(', '))
  const action = useAction()
  const save = (event: Event) => {
    event.preventDefault()
    action
      .run(async () => {
        await call('PATCH', base(release.name), { body: { notes } })
        await call('PUT', `${base(release.name)}/tags`, {
          body: tags
            .split(',')
            .map((t) => t.trim().toLowerCase())
            .filter(Boolean),
        })
      })
      .then((ok) => ok && onChange())
  }
  return (
    <form class="card" onSubmit={save} aria-label="Release notes and tags">
      <TextArea label="Release notes" value={notes} onValue={setNotes} rows={3} maxLength={1024} />
      <Field label="Tags (comma-separated)" value={tags} onValue={setTags} />
      <ErrorNote error={action.error} />
      <button type="submit" disabled={action.busy}>
        Save notes and tags
      </button>
    </form>
  )
}

export function ReleasePage({ name }: { name: string }) {
  const release = useLoad(() => get<Release>(base(name)), [name])
  const action = useAction()
  if (release.error) return <ErrorNote error={release.error} />
  if (!release.data) return <Loading what="the release" />
  const r = release.data
  return (
    <div class="stack">
      <p>
        <a href={href('releases')}>← Releases</a>
      </p>
      <div class="title-row">
        <h1>{r.name}</h1>
        <span class="actions">
          <a class="button primary" href={`${href('deployments')}?new=${encodeURIComponent(r.name)}`}>
            Deploy this release
          </a>
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirm(`Delete the release ${r.name} and its ${r.artifacts.length} artifacts?`) &&
              action
                .run(() =>
                  call('DELETE', `v2/deployments/deployments/releases?name=${encodeURIComponent(r.name)}`),
                )
                .then((ok) => ok && navigate(href('releases')))
            }
          >
            Delete release
          </button>
        </span>
      </div>
      <ErrorNote error={action.error} />
      <p class="muted">
        Modified <Time value={r.modified} />
      </p>
      <Notes key={r.modified} release={r} onChange={release.reload} />
      <h2>Artifacts</h2>
      {r.artifacts.length === 0 && <Empty>This release has no artifacts left.</Empty>}
      {r.artifacts.map((a) => (
        <ArtifactCard key={a.id} artifact={a} onChange={release.reload} />
      ))}
    </div>
  )
}
