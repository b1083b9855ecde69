import { connect } from 'node:net'

export type RawReply = { status: number; headers: Record<string, string>; body: Buffer }

/**
 * Sends `head` (request line and headers, no blank line) plus an optional body over a fresh
 * loopback connection and reads the reply up to the server's close: the bytes on the wire,
 * without a client's decompression or header clean-up in between.
 */
export function rawRequest(port: number, head: string, body?: Uint8Array): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('end', () => {
      const all = Buffer.concat(chunks)
      const split = all.indexOf('\r\n\r\n')
      const [statusLine = '', ...lines] = all.subarray(0, split).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: all.subarray(split + 4) })
    })
    socket.write(`${head}\r\nConnection: close\r\n\r\n`)
    if (body) socket.write(body)
  })
}
