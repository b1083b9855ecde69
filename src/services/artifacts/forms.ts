import { artifactTooLarge, BadRequestError, UnsupportedMediaTypeError } from '../../gateway/errors.ts'
import {
  type MultipartPart,
  MultipartReader,
  multipartBoundary,
  readPartText,
} from '../../gateway/multipart.ts'
import { isUuid } from '../../ids.ts'
import type { ArtifactUpload, GenerateRequest } from './model.ts'

/*
 * The multipart forms of the artifact routes (upload, generate), read while they stream in: the
 * routes decide 415/413/400 from the headers and the fields, and hand the service the last part's
 * bytes as they arrive.
 */

const MULTIPART_TYPES = ['multipart/form-data', 'multipart/mixed']
/** Mender's bound on a generated artifact's device types. */
const MAX_DEVICE_TYPES = 256

/**
 * Opens a multipart upload the way Mender's routes do: a declared body of another type is a 415, a
 * chunked one that is not multipart a 400, and a declared length above `maxSize` a 413 before any
 * byte is read.
 */
export function openMultipart(request: Request, maxSize: number): MultipartReader {
  const contentType = request.headers.get('content-type') ?? ''
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase()
  const length = Number(request.headers.get('content-length') ?? 0)
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
  return new MultipartReader(request.body ?? new Blob([]).stream(), boundary)
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
async function* sizedBody(
  part: MultipartPart,
  size: number | undefined,
  maxSize: number,
): AsyncGenerator<Uint8Array> {
  let read = 0
  for await (const chunk of part.body) {
    read += chunk.byteLength
    if ((size !== undefined && read > size) || read > maxSize) throw artifactTooLarge()
    yield chunk
  }
  if (size !== undefined && read < size) throw new BadRequestError('unexpected EOF')
}

/**
 * Reads the form fields of an artifact upload up to the `artifact` part, which must come last (its
 * bytes are consumed elsewhere). Unknown parts are skipped, as in Mender.
 */
export async function readUploadForm(reader: MultipartReader, maxSize: number): Promise<ArtifactUpload> {
  let description = ''
  let artifactId: string | undefined
  let size: number | undefined
  for (let part = await reader.next(); part; part = await reader.next()) {
    if (part.name === 'description') description = await readPartText(part)
    else if (part.name === 'size') size = await readSize(part, maxSize)
    else if (part.name === 'artifact_id') {
      artifactId = await readPartText(part)
      if (!isUuid(artifactId)) throw new BadRequestError('artifact_id is not a valid UUID')
    } else if (part.name === 'artifact') {
      return { description, artifactId, content: sizedBody(part, size, maxSize) }
    }
  }
  throw new BadRequestError('request does not contain the artifact file')
}

/**
 * Reads an artifact generation form up to the `file` part, which must come last; its bytes are
 * handed on as they arrive.
 */
export async function readGenerateForm(reader: MultipartReader, maxSize: number): Promise<GenerateRequest> {
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
      case 'file':
        return { ...form, filename: part.filename, content: sizedBody(part, size, maxSize) }
    }
  }
  throw new BadRequestError("invalid form parameters: missing 'file' section")
}
