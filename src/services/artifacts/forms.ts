import { open } from 'node:fs/promises'
import { artifactTooLarge, BadRequestError, UnsupportedMediaTypeError } from '../../gateway/errors.ts'
import {
  type MultipartPart,
  MultipartReader,
  multipartBoundary,
  readPartText,
} from '../../gateway/multipart.ts'

/** An upload request as the routes hand it over: its body unread. */
export type MultipartUpload = {
  contentType: string | null
  contentLength: string | null
  body: ReadableStream<Uint8Array> | null
}

const MULTIPART_TYPES = ['multipart/form-data', 'multipart/mixed']
/** Mender's bound on a generated artifact's device types. */
const MAX_DEVICE_TYPES = 256
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string): boolean => UUID.test(value)

/**
 * Opens a multipart upload the way Mender's routes do: a declared body of another type is a 415, a
 * chunked one that is not multipart a 400, and a declared length above `maxSize` a 413 before any
 * byte is read.
 */
export function openMultipart(upload: MultipartUpload, maxSize: number): MultipartReader {
  const contentType = upload.contentType ?? ''
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase()
  const length = Number(upload.contentLength ?? 0)
  if (!MULTIPART_TYPES.includes(mediaType)) {
    if (length > 0) {
      throw new UnsupportedMediaTypeError(
        "Bad Content-Type, expected 'multipart/form-data', 'multipart/mixed'",
      )
    }
    throw new BadRequestError("request Content-Type isn't multipart/form-data")
  }
  if (length > maxSize) throw artifactTooLarge()
  const boundary = multipartBoundary(contentType)
  if (!boundary) throw new BadRequestError('no multipart boundary param in Content-Type')
  return new MultipartReader(upload.body ?? new Blob([]).stream(), boundary)
}

/** A decimal `size` part: the exact length of the file part that follows. */
async function readSize(part: MultipartPart, maxSize: number): Promise<number> {
  const text = await readPartText(part, 20)
  if (!/^\d+$/.test(text)) throw new BadRequestError(`invalid size: ${JSON.stringify(text)}`)
  const size = Number(text)
  if (size > maxSize) throw artifactTooLarge()
  return size
}

/**
 * A file part's bytes, checked against the declared `size` when there was one: more bytes are a
 * 413 as soon as they arrive, fewer a 400 at the end.
 */
export async function* sizedBody(part: MultipartPart, size: number | undefined): AsyncGenerator<Uint8Array> {
  let read = 0
  for await (const chunk of part.body) {
    read += chunk.byteLength
    if (size !== undefined && read > size) throw artifactTooLarge()
    yield chunk
  }
  if (size !== undefined && read < size) throw new BadRequestError('unexpected EOF')
}

export type UploadForm = {
  description: string
  artifactId: string | undefined
  size: number | undefined
  /** The `artifact` part, left unread. */
  artifact: MultipartPart
}

/**
 * Reads the form fields of an artifact upload up to the `artifact` part, which must come last (its
 * bytes are consumed elsewhere). Unknown parts are skipped, as in Mender.
 */
export async function readUploadForm(reader: MultipartReader, maxSize: number): Promise<UploadForm> {
  let description = ''
  let artifactId: string | undefined
  let size: number | undefined
  for (let part = await reader.next(); part; part = await reader.next()) {
    if (part.name === 'description') description = await readPartText(part)
    else if (part.name === 'size') size = await readSize(part, maxSize)
    else if (part.name === 'artifact_id') {
      artifactId = await readPartText(part)
      if (!isUuid(artifactId)) throw new BadRequestError('artifact_id is not a valid UUID')
    } else if (part.name === 'artifact') return { description, artifactId, size, artifact: part }
  }
  throw new BadRequestError('request does not contain the artifact file')
}

export type GenerateForm = {
  name: string
  description: string
  deviceTypes: string[]
  type: string
  args: string
  /** The file part's own name, if it has one. */
  filename: string | undefined
  size: number
}

/**
 * Reads an artifact generation form, writing the `file` part (which must come last) to `path`
 * as it arrives.
 */
export async function readGenerateForm(
  reader: MultipartReader,
  path: string,
  maxSize: number,
): Promise<GenerateForm> {
  const form = { name: '', description: '', deviceTypes: [] as string[], type: '', args: '' }
  let size: number | undefined
  for (let part = await reader.next(); part; part = await reader.next()) {
    switch (part.name) {
      case 'name':
      case 'description':
      case 'type':
      case 'args':
        form[part.name] = await readPartText(part)
        break
      case 'device_types_compatible':
        form.deviceTypes.push(...(await readPartText(part)).split(','))
        // Checked as they come, so that endless repeated parts cannot pile up.
        if (form.deviceTypes.length > MAX_DEVICE_TYPES) {
          throw new BadRequestError(
            'invalid form parameters: device_types_compatible: at most 256 are allowed',
          )
        }
        break
      case 'size':
        size = await readSize(part, maxSize)
        break
      case 'file': {
        const written = await writeFile(path, sizedBody(part, size), maxSize)
        return { ...form, filename: part.filename, size: written }
      }
    }
  }
  throw new BadRequestError("invalid form parameters: missing 'file' section")
}

async function writeFile(path: string, chunks: AsyncIterable<Uint8Array>, maxSize: number): Promise<number> {
  const file = await open(path, 'wx')
  let size = 0
  try {
    for await (const chunk of chunks) {
      size += chunk.byteLength
      if (size > maxSize) throw artifactTooLarge()
      for (let at = 0; at < chunk.byteLength; ) at += (await file.write(chunk, at)).bytesWritten
    }
  } finally {
    await file.close()
  }
  return size
}
