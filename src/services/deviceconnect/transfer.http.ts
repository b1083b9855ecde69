import { BadRequestError } from '../../gateway/errors.ts'
import { MultipartReader, multipartBoundary, readPartText } from '../../gateway/multipart.ts'
import type { FileInfo, UploadTarget } from './model.ts'

const FIELD_LIMIT = 4096

/** A download as Mender answers it: the bytes, and the file's metadata in `X-MEN-File-*` headers. */
export function downloadResponse({ info, body }: { info: FileInfo; body: ReadableStream }): Response {
  const name = info.path.slice(info.path.lastIndexOf('/') + 1).replace(/["\\\r\n]/g, '_')
  const headers = new Headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}"`,
    'x-men-file-path': info.path,
    'x-men-file-size': String(info.size),
  })
  if (info.uid !== undefined) headers.set('x-men-file-uid', String(info.uid))
  if (info.gid !== undefined) headers.set('x-men-file-gid', String(info.gid))
  if (info.mode !== undefined) headers.set('x-men-file-mode', (info.mode >>> 0).toString(8))
  return new Response(body, { headers })
}

function readId(name: string, raw: string): number {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff)
    throw new BadRequestError(`${name}: must be a number`)
  return Number(raw)
}

/**
 * Reads an upload form as Mender does: `path`, `uid`, `gid` and `mode` (octal) up to the `file`
 * part, whose bytes are handed on unread; nothing after `file` is read.
 */
export async function readUploadForm(
  contentType: string | null,
  body: ReadableStream<Uint8Array> | null,
): Promise<{ target: UploadTarget; file: AsyncIterable<Uint8Array> }> {
  const boundary =
    contentType?.toLowerCase().startsWith('multipart/form-data') && multipartBoundary(contentType)
  if (!boundary || !body) throw new BadRequestError('request body must be multipart/form-data')
  const reader = new MultipartReader(body, boundary)
  const target: Partial<UploadTarget> = {}
  for (let part = await reader.next(); part; part = await reader.next()) {
    if (part.name === 'file') {
      if (!target.path) throw new BadRequestError('path: cannot be blank.')
      return { target: { ...target, path: target.path }, file: part.body }
    }
    const value = (await readPartText(part, FIELD_LIMIT)).trim()
    if (part.name === 'path') {
      if (!value.startsWith('/')) throw new BadRequestError('path: must be absolute.')
      target.path = value
    } else if (part.name === 'uid' || part.name === 'gid') {
      target[part.name] = readId(part.name, value)
    } else if (part.name === 'mode') {
      if (!/^[0-7]{1,6}$/.test(value)) throw new BadRequestError('mode: must be an octal number')
      target.mode = Number.parseInt(value, 8)
    }
  }
  throw new BadRequestError('file: cannot be blank.')
}
