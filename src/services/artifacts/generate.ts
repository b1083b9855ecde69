import { fileFromPath, type ModuleImageSpec, singleFilePayload } from '../../artifact/writer.ts'
import { BadRequestError } from '../../gateway/errors.ts'
import type { GenerateRequest } from './model.ts'

/** Mender's cap on the raw file of a generated artifact. */
export const MAX_GENERATE_FILE_SIZE = 256 * 1024 * 1024

const MAX_FIELD_LENGTH = 256

const invalid = (detail: string) => new BadRequestError(`invalid form parameters: ${detail}`)

type SingleFileArgs = { filename?: unknown; dest_dir?: unknown; [other: string]: unknown }

function parseArgs(text: string): SingleFileArgs {
  let args: unknown
  try {
    args = JSON.parse(text)
  } catch {
    throw invalid("args: can't parse 'args' as JSON")
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw invalid('args: must be a JSON object')
  }
  return args as SingleFileArgs
}

function checkLength(value: string, what: string): void {
  if (value === '') throw invalid(`${what}: cannot be blank`)
  if (value.length > MAX_FIELD_LENGTH) throw invalid(`${what}: the length must be between 1 and 256`)
}

/**
 * What Mender's generator builds from the form: a `single-file` update (whatever `type` says,
 * Mender only has that generator) installing the uploaded file as `args.filename` (the part's own
 * file name when absent) into `args.dest_dir` on the device.
 */
export function generateSpec(form: Omit<GenerateRequest, 'content'>, payloadPath: string): ModuleImageSpec {
  checkLength(form.name, 'name')
  checkLength(form.type, 'type')
  if (form.deviceTypes.length === 0) throw invalid('device_types_compatible: cannot be blank')
  for (const deviceType of form.deviceTypes) checkLength(deviceType, 'device_types_compatible')
  const args = parseArgs(form.args || '{}')
  const unsupported = Object.keys(args).filter((key) => key !== 'filename' && key !== 'dest_dir')
  if (unsupported.length > 0) throw invalid(`args: ${unsupported.join(', ')} not supported`)
  const filename = args.filename ?? form.filename
  if (typeof filename !== 'string' || filename === '') throw invalid('args: filename cannot be blank')
  if (typeof args.dest_dir !== 'string') throw invalid('args: dest_dir cannot be blank')
  // Only the file's own name goes into the payload, as in Mender's generator.
  const name = filename.slice(filename.lastIndexOf('/') + 1)
  return {
    name: form.name,
    deviceTypes: form.deviceTypes,
    type: 'single-file',
    files: singleFilePayload(fileFromPath(payloadPath, name), args.dest_dir),
  }
}
