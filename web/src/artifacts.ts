import { ApiError, call, get } from './api.ts'
import { onLiveEvent } from './live.ts'

export type Update = { type_info: { type: string | null }; files?: { name: string; size: number }[] }
export type Artifact = {
  id: string
  name: string
  description: string
  device_types_compatible: string[]
  updates: Update[]
  artifact_provides?: Record<string, string>
  artifact_depends?: Record<string, string | string[]>
  size: number
  modified: string
  signed: boolean
}
export type Release = {
  name: string
  modified: string
  tags: string[]
  notes: string
  artifacts: Artifact[]
  artifacts_count: number
}

type Link = { id: string; uri: string }

function put(uri: string, file: File, onProgress: (sent: number) => void): Promise<void> {
  // XHR, not fetch: only XHR reports upload progress. The browser streams the file from disk.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('PUT', uri)
    xhr.setRequestHeader('content-type', 'application/vnd.mender-artifact')
    xhr.upload.onprogress = (event) => onProgress(event.loaded)
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve()
      let message = `The storage server answered ${xhr.status}.`
      try {
        message = JSON.parse(xhr.responseText).error ?? message
      } catch {}
      reject(
        new ApiError(
          message.endsWith('.') ? message : `${message}.`,
          xhr.status,
          xhr.getResponseHeader('x-men-requestid') ?? undefined,
        ),
      )
    }
    xhr.onerror = () =>
      reject(new Error('The upload was cut off: check the connection to the storage address and try again.'))
    xhr.send(file)
  })
}

/**
 * Direct upload: a signed link from the API, the file PUT straight to the storage proxy, then
 * "complete", after which the server checks the artifact in the background. The artifact exists
 * once that check passed; if the check refused it, the live stream says why
 * (`artifact-upload-refused` about this upload's id).
 */
export async function uploadArtifact(
  file: File,
  onProgress: (sent: number) => void,
  onStage: (stage: 'uploading' | 'checking') => void,
): Promise<Artifact> {
  const link = (await call<Link>('POST', 'v1/deployments/artifacts/directupload')).data
  onStage('uploading')
  await put(link.uri, file, onProgress)
  onStage('checking')
  let refusal: string | undefined
  let wake = () => {}
  const stop = onLiveEvent((event) => {
    if (event.type !== 'artifact-upload-refused' || event.subject !== link.id) return
    refusal = String(event.data.reason ?? '')
    wake()
  })
  try {
    await call('POST', `v1/deployments/artifacts/directupload/${link.id}/complete`, { body: {} })
    return await settled(
      link.id,
      file.size,
      () => refusal,
      (next) => (wake = next),
    )
  } finally {
    stop()
  }
}

/** Polls for the artifact until it exists, the server's refusal arrives, or the wait runs out. */
async function settled(
  id: string,
  size: number,
  refusal: () => string | undefined,
  onRefusal: (wake: () => void) => void,
): Promise<Artifact> {
  const deadline = Date.now() + 120_000 + size / 50_000
  for (let wait = 200; Date.now() < deadline; wait = Math.min(wait * 2, 3000)) {
    const reason = refusal()
    if (reason !== undefined) throw new Error(`The server refused the artifact: ${sentence(reason)}`)
    try {
      return await get<Artifact>(`v1/deployments/artifacts/${id}`)
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err
    }
    await new Promise<void>((done) => {
      const timer = setTimeout(done, wait)
      onRefusal(() => {
        clearTimeout(timer)
        done()
      })
    })
  }
  throw new Error(
    'The server refused the artifact after checking it: it is not a valid Mender artifact, or an artifact with the same name and device types is already stored.',
  )
}

const sentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`)

export async function generateArtifact(form: {
  name: string
  description: string
  deviceTypes: string
  destDir: string
  file: File
}): Promise<void> {
  const body = new FormData()
  body.set('name', form.name)
  body.set('description', form.description)
  for (const type of form.deviceTypes
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean))
    body.append('device_types_compatible', type)
  body.set('type', 'single-file')
  body.set('args', JSON.stringify({ filename: form.file.name, dest_dir: form.destDir }))
  body.set('file', form.file)
  await call('POST', 'v1/deployments/artifacts/generate', { raw: body })
}

export const payloadTypes = (a: Artifact) => [...new Set(a.updates.map((u) => u.type_info.type ?? 'none'))]
