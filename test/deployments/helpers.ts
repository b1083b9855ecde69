import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { TestApp } from '../helpers/app.ts'
import { menderArtifact } from '../helpers/mender-tools.ts'

export const ARTIFACTS = '/api/management/v1/deployments/artifacts'

export type ArtifactOptions = {
  name: string
  deviceTypes?: string[]
  /** Files to put in the payload (paths); a small generated one when absent. */
  files?: string[]
  compression?: 'none' | 'gzip' | 'lzma'
  /** More `mender-artifact write module-image` arguments (-d, -p, -m ...). */
  extra?: string[]
}

/** Writes a module-image artifact with the real mender-artifact and returns its path. */
export async function makeArtifact(dir: string, options: ArtifactOptions): Promise<string> {
  const out = join(dir, `${options.name}-${crypto.randomUUID()}.mender`)
  let files = options.files
  if (!files) {
    const payload = join(dir, `payload-${crypto.randomUUID()}.bin`)
    await Bun.write(payload, `payload of ${options.name}\n`)
    files = [payload]
  }
  menderArtifact([
    'write',
    'module-image',
    '-n',
    options.name,
    ...(options.deviceTypes ?? ['dev-a']).flatMap((type) => ['-t', type]),
    '-T',
    'single-file',
    ...files.flatMap((file) => ['-f', file]),
    '--compression',
    options.compression ?? 'gzip',
    '-o',
    out,
    ...(options.extra ?? []),
  ])
  return out
}

/** A multipart body as mender-cli sends one: size, description, then the artifact. */
export async function uploadBody(
  path: string,
  fields: Record<string, string> = {},
  fileField = 'artifact',
): Promise<FormData> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  form.append(fileField, new Blob([await Bun.file(path).arrayBuffer()]), 'upload.mender')
  return form
}

export async function upload(t: TestApp, token: string, path: string, fields: Record<string, string> = {}) {
  return t.call('POST', ARTIFACTS, { token, raw: await uploadBody(path, fields) })
}

/** Every object key in the blob store. */
export async function blobKeys(t: TestApp): Promise<string[]> {
  const keys: string[] = []
  for await (const entry of t.deps.blobs.list()) keys.push(entry.key)
  return keys.sort()
}

/** Files that an upload may have left behind: the disk store's temp files and the server's temp dir. */
export function leftovers(t: TestApp): string[] {
  const found: string[] = []
  const storage = t.deps.config.storageDir
  if (existsSync(storage)) {
    for (const name of readdirSync(storage, { recursive: true }) as string[]) {
      if (name.split('/').some((segment) => segment.startsWith('.'))) found.push(join(storage, name))
    }
  }
  const temp = join(t.deps.config.dataDir, 'tmp')
  if (existsSync(temp)) found.push(...readdirSync(temp).map((name) => join(temp, name)))
  return found
}

/** Rows, objects and temp files all empty: what a failed upload must leave. */
export async function expectNothingStored(t: TestApp, token: string): Promise<void> {
  const { expect } = await import('bun:test')
  expect((await t.call('GET', ARTIFACTS, { token })).json).toEqual([])
  expect(await blobKeys(t)).toEqual([])
  expect(leftovers(t)).toEqual([])
}

export type RawPart = { name?: string; filename?: string; headers?: string[]; content: string | Uint8Array }

/** A multipart body written by hand, for requests no FormData would make. */
export function multipartBytes(parts: RawPart[], boundary = 'test-boundary-7d9f', close = true): Uint8Array {
  const chunks: Uint8Array[] = []
  const text = (value: string) => chunks.push(new TextEncoder().encode(value))
  for (const part of parts) {
    text(`--${boundary}\r\n`)
    if (part.name !== undefined) {
      const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`
      text(`Content-Disposition: form-data; name="${part.name}"${filename}\r\n`)
    }
    for (const header of part.headers ?? []) text(`${header}\r\n`)
    text('\r\n')
    chunks.push(typeof part.content === 'string' ? new TextEncoder().encode(part.content) : part.content)
    text('\r\n')
  }
  if (close) text(`--${boundary}--\r\n`)
  return Buffer.concat(chunks)
}

/** Posts a hand-made multipart body with an exact Content-Length. */
export function postMultipart(
  t: TestApp,
  token: string,
  body: Uint8Array,
  options: { path?: string; type?: string; boundary?: string } = {},
) {
  return t.call('POST', options.path ?? ARTIFACTS, {
    token,
    raw: body,
    headers: {
      'content-type':
        options.type ?? `multipart/form-data; boundary=${options.boundary ?? 'test-boundary-7d9f'}`,
      'content-length': String(body.byteLength),
    },
  })
}
