// The plain codec: the package root also loads its optional native string extractor and its stream
// classes, a large share of start-up for messages that are all small.
import { Packr } from 'msgpackr/pack'

/**
 * Mender's websocket envelope (`ws.ProtoMsg`): a msgpack map `{hdr: {proto, typ, sid, props}, body}`.
 * Everything crossing the relay is decoded into this shape, checked, and encoded again by the
 * server: a user's bytes never reach a device as they were sent.
 */
export type ProtoMsg = {
  proto: number
  typ: string
  sid: string
  props: Record<string, unknown>
  body: Uint8Array
}

export const PROTO_SHELL = 1
export const PROTO_FILE_TRANSFER = 2
export const PROTO_PORT_FORWARD = 3
export const PROTO_MENDER_CLIENT = 4
export const PROTO_CONTROL = 0xffff

/** The protocols a user session may speak; anything else ends the session. */
export const USER_PROTOCOLS: ReadonlySet<number> = new Set([
  PROTO_SHELL,
  PROTO_FILE_TRANSFER,
  PROTO_PORT_FORWARD,
  PROTO_MENDER_CLIENT,
  PROTO_CONTROL,
])

/** mender-connect reads at most this many bytes per websocket message and drops its connection above it. */
export const DEVICE_MESSAGE_LIMIT = 8192

/** Shell `props.status` values. */
export const SHELL_STATUS = { normal: 1, error: 2, control: 3 } as const

/** Chunk size of file transfers, as mender-connect uses it. */
export const FILE_CHUNK_SIZE = 4096

export class ProtocolError extends Error {}

/**
 * Maps stay maps with string keys (Go decodes structs from them), binary stays `bin`, and a BigInt
 * is written as msgpack int64 (0xd3): mender-connect reads a file transfer's `offset` with a Go type
 * assertion to int64, which only that wire type satisfies. Decoded int64 values come back as BigInt,
 * so an offset relayed from one side keeps its wire type on the other.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: 'bigint',
})

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)

const encoder = new TextEncoder()
const EMPTY = new Uint8Array(0)

/** Go decodes `body` into []byte from `bin`, `str` or nil; anything else is refused, as there. */
function readBody(value: unknown): Uint8Array {
  if (value === undefined || value === null) return EMPTY
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return encoder.encode(value)
  throw new ProtocolError('message body must be binary or a string')
}

function readOptionalString(value: unknown, name: string): string {
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw new ProtocolError(`message ${name} must be a string`)
  return value
}

/** Decodes and checks one message; throws ProtocolError for anything that is not a ProtoMsg. */
export function decodeMessage(bytes: Uint8Array): ProtoMsg {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch {
    throw new ProtocolError('malformed msgpack message')
  }
  if (!isPlainObject(value) || !isPlainObject(value.hdr)) throw new ProtocolError('message without a header')
  const { proto, typ, sid, props } = value.hdr
  if (typeof proto !== 'number' || !Number.isInteger(proto) || proto < 0 || proto > 0xffff) {
    throw new ProtocolError('message proto must be a 16-bit unsigned integer')
  }
  if (props !== undefined && props !== null && !isPlainObject(props)) {
    throw new ProtocolError('message props must be a map')
  }
  return {
    proto,
    typ: readOptionalString(typ, 'typ'),
    sid: readOptionalString(sid, 'sid'),
    props: props ? { ...props } : {},
    body: readBody(value.body),
  }
}

/** Encodes a message as Go does: empty typ, sid, props and body are left out. */
export function encodeMessage(msg: ProtoMsg): Uint8Array {
  const hdr: Record<string, unknown> = { proto: msg.proto }
  if (msg.typ) hdr.typ = msg.typ
  if (msg.sid) hdr.sid = msg.sid
  if (Object.keys(msg.props).length > 0) hdr.props = msg.props
  return packr.pack(msg.body.length > 0 ? { hdr, body: msg.body } : { hdr })
}

/** A message body that is itself a msgpack map (control, file transfer and port forward requests). */
export function encodeBody(value: Record<string, unknown>): Uint8Array {
  return packr.pack(value)
}

/** Decodes a map body; throws ProtocolError when it is not one. */
export function decodeBody(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch {
    throw new ProtocolError('malformed msgpack body')
  }
  if (!isPlainObject(value)) throw new ProtocolError('message body must be a map')
  return value
}

/** A message with the given fields, the rest empty. */
export const message = (fields: Partial<ProtoMsg> & Pick<ProtoMsg, 'proto'>): ProtoMsg => ({
  typ: '',
  sid: '',
  props: {},
  body: EMPTY,
  ...fields,
})

/** Reads an integer prop or body field whatever its msgpack width (BigInt for int64). */
export function readInteger(value: unknown): number | undefined {
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'number' && Number.isInteger(value)) return value
  return undefined
}
