import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { acceptedDevice } from '../helpers/device.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { adminOf, codec, type Msg, Socket, wsUrl } from './helpers.ts'

const MGMT = '/api/management/v1/deviceconnect'
const LIMIT = 64 * 1024

let server: TestServer
let admin: string
let device: { id: string; token: string }
let deviceWs: Socket

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const reply = (to: Msg, typ: string, fields: Partial<Msg['hdr']> & { body?: Uint8Array } = {}) => {
  const { body, ...hdr } = fields
  deviceWs.send({ hdr: { proto: to.hdr.proto, typ, sid: to.hdr.sid, ...hdr }, ...(body ? { body } : {}) })
}
/** The device's side of the control handshake, listing `protocols`. */
async function accept(protocols = [1, 2, 3, 4]) {
  const { msg } = await deviceWs.next((m) => m.hdr.typ === 'open')
  reply(msg, 'accept', { body: codec.pack({ version: 1, protocols }) })
  return msg.hdr.sid!
}

beforeAll(async () => {
  server = await startTestServer({ BENDER_CONNECT_MAX_FILE_SIZE: String(LIMIT) })
  admin = await adminOf(server)
  device = await acceptedDevice(server, admin)
  deviceWs = new Socket(wsUrl(server.url, '/api/devices/v1/deviceconnect/connect'), bearer(device.token))
  await deviceWs.opened
})

afterAll(async () => {
  deviceWs?.close()
  await server?.stop()
})

const download = (path: string) =>
  fetch(`${server.url}${MGMT}/devices/${device.id}/download?path=${encodeURIComponent(path)}`, {
    headers: bearer(admin),
  })

const upload = (path: string, bytes: Uint8Array) => {
  const form = new FormData()
  form.append('path', path)
  form.append('file', new Blob([bytes]), 'f.bin')
  return fetch(`${server.url}${MGMT}/devices/${device.id}/upload`, {
    method: 'PUT',
    headers: bearer(admin),
    body: form,
  })
}

describe('file transfer over the device connection', () => {
  test('download: stat, then chunks acked as they are read; headers as Mender sends them', async () => {
    const content = crypto.getRandomValues(new Uint8Array(50_000))
    const response = download('/data/file.bin')
    await accept()
    const stat = (await deviceWs.next((m) => m.hdr.typ === 'stat')).msg
    expect(codec.unpack(stat.body!)).toEqual({ path: '/data/file.bin' })
    reply(stat, 'file_info', {
      body: codec.pack({ path: '/data/file.bin', size: content.length, uid: 0, gid: 0, mode: 0o644 }),
    })
    const get = (await deviceWs.next((m) => m.hdr.typ === 'get_file')).msg
    for (let offset = 0; offset < content.length; offset += 4096) {
      reply(get, 'file_chunk', {
        props: { offset: BigInt(offset) },
        body: content.subarray(offset, offset + 4096),
      })
    }
    reply(get, 'file_chunk', { props: { offset: BigInt(content.length) } })
    const res = await response
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('x-men-file-size')).toBe(String(content.length))
    expect(res.headers.get('x-men-file-mode')).toBe('644')
    expect(Bun.deepEquals(new Uint8Array(await res.arrayBuffer()), content)).toBe(true)
    const acks = []
    for (;;) {
      const ack = await deviceWs.next((m) => m.hdr.typ === 'ack' || m.hdr.typ === 'close')
      if (ack.msg.hdr.typ === 'close') break
      acks.push(ack)
    }
    expect(acks.at(-1)!.msg.hdr.props?.offset).toBe(BigInt(content.length))
    const raw = Buffer.from(acks.at(-1)!.raw)
    expect(raw[raw.indexOf(Buffer.from('offset')) + 6]).toBe(0xd3)
  })

  test("download: the device's error is a 400; a file over the limit is a 413 before any byte moves", async () => {
    const missing = download('/nope')
    await accept()
    reply((await deviceWs.next((m) => m.hdr.typ === 'stat')).msg, 'error', {
      body: codec.pack({ err: 'no such file' }),
    })
    const res = await missing
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error).toBe('no such file')
    const big = download('/big')
    await accept()
    reply((await deviceWs.next((m) => m.hdr.typ === 'stat')).msg, 'file_info', {
      body: codec.pack({ path: '/big', size: LIMIT + 1, mode: 0o644 }),
    })
    expect((await big).status).toBe(413)
    const dir = download('/etc')
    await accept()
    reply((await deviceWs.next((m) => m.hdr.typ === 'stat')).msg, 'file_info', {
      body: codec.pack({ path: '/etc', size: 4096, mode: 2 ** 31 + 0o755 }),
    })
    expect((await dir).status).toBe(400)
  })

  test('a device without file transfer answers 502', async () => {
    const res = download('/x')
    await accept([1, 3])
    expect((await res).status).toBe(502)
  })

  test('upload: put_file, 4 KiB chunks with int64 offsets within the ack window, the empty last chunk', async () => {
    const content = crypto.getRandomValues(new Uint8Array(30_000))
    const response = upload('/data/up.bin', content)
    await accept()
    const put = (await deviceWs.next((m) => m.hdr.typ === 'put_file')).msg
    expect(codec.unpack(put.body!)).toEqual({ path: '/data/up.bin' })
    reply(put, 'ack', { props: { offset: 0n } })
    const received: Uint8Array[] = []
    for (;;) {
      const { raw, msg } = await deviceWs.next((m) => m.hdr.typ === 'file_chunk')
      const key = Buffer.from(raw).indexOf(Buffer.from('offset'))
      expect(raw[key + 6]).toBe(0xd3)
      expect(msg.body?.length ?? 0).toBeLessThanOrEqual(4096)
      if (!msg.body?.length) {
        reply(msg, 'ack', { props: { offset: msg.hdr.props!.offset } })
        break
      }
      received.push(msg.body)
      if (received.length % 3 === 0) reply(msg, 'ack', { props: { offset: msg.hdr.props!.offset } })
    }
    expect((await response).status).toBe(201)
    expect(Bun.deepEquals(new Uint8Array(Buffer.concat(received)), content)).toBe(true)
  })

  test('upload: over the size limit is a 413, and the device is told to drop it', async () => {
    server.clock.advance(1)
    const response = upload('/data/big.bin', new Uint8Array(LIMIT + 10))
    await accept()
    reply((await deviceWs.next((m) => m.hdr.typ === 'put_file')).msg, 'ack', { props: { offset: 0n } })
    const answered = response.then((res) => res.status)
    for (;;) {
      const { msg } = await deviceWs.next((m) => m.hdr.typ === 'file_chunk' || m.hdr.typ === 'close')
      if (msg.hdr.typ === 'close') break
      reply(msg, 'ack', { props: { offset: msg.hdr.props!.offset } })
    }
    expect(await answered).toBe(413)
    const sessions = (await (
      await fetch(`${server.url}${MGMT}/sessions`, { headers: bearer(admin) })
    ).json()) as any[]
    expect(sessions[0]).toMatchObject({ type: 'upload', status: 'failed', path: '/data/big.bin' })
  })
})
