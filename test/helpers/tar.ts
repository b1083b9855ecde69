/**
 * A small tar builder for tests, written apart from src/artifact/tar.ts so the reader is checked
 * against bytes it did not produce, including deliberately broken ones.
 */

export type TarMember = {
  name: string
  content?: Uint8Array | string
  /** Typeflag; '0' (regular file) by default. */
  type?: string
  mtime?: number
  /** ustar prefix field. */
  prefix?: string
  /** Size written in the header when it must differ from the content's. */
  size?: number
  /** Base-256 (GNU) encoding of the size field. */
  binarySize?: boolean
  /** Edits the finished header block (its checksum is recomputed afterwards unless `keepChecksum`). */
  patch?: (block: Uint8Array) => void
  keepChecksum?: boolean
}

const encoder = new TextEncoder()

export function bytesOf(content: Uint8Array | string | undefined): Uint8Array {
  if (content === undefined) return new Uint8Array(0)
  return typeof content === 'string' ? encoder.encode(content) : content
}

function octal(block: Uint8Array, offset: number, length: number, value: number): void {
  block.set(encoder.encode(`${value.toString(8).padStart(length - 1, '0')}\0`), offset)
}

export function headerBlock(member: TarMember): Uint8Array {
  const content = bytesOf(member.content)
  const size = member.size ?? content.byteLength
  const block = new Uint8Array(512)
  block.set(encoder.encode(member.name).subarray(0, 100), 0)
  octal(block, 100, 8, 0o600)
  octal(block, 108, 8, 0)
  octal(block, 116, 8, 0)
  if (member.binarySize) {
    block[124] = 0x80
    let rest = size
    for (let i = 135; i > 124; i--) {
      block[i] = rest % 256
      rest = Math.floor(rest / 256)
    }
  } else {
    octal(block, 124, 12, size)
  }
  octal(block, 136, 12, member.mtime ?? 1700000000)
  block[156] = (member.type ?? '0').charCodeAt(0)
  block.set(encoder.encode('ustar\u000000'), 257)
  if (member.prefix) block.set(encoder.encode(member.prefix), 345)
  member.patch?.(block)
  if (!member.keepChecksum) setChecksum(block)
  return block
}

export function setChecksum(block: Uint8Array): void {
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of block) sum += byte
  block.set(encoder.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148)
}

export function paxRecords(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([key, value]) => {
      const body = ` ${key}=${value}\n`
      let length = body.length + 1
      while (String(length).length + body.length !== length) length++
      return `${length}${body}`
    })
    .join('')
}

/** The archive of `members`, each padded to 512 bytes, closed by two zero blocks unless `end` is false. */
export function tar(members: TarMember[], end = true): Uint8Array {
  const parts: Uint8Array[] = []
  for (const member of members) {
    const content = bytesOf(member.content)
    parts.push(headerBlock(member), content, new Uint8Array((512 - (content.byteLength % 512)) % 512))
  }
  if (end) parts.push(new Uint8Array(1024))
  return Buffer.concat(parts)
}

/** The members of a plain ustar archive (what mender-artifact writes), for tests that rebuild one. */
export function splitTar(archive: Uint8Array): { name: string; content: Uint8Array; mtime: number }[] {
  const decoder = new TextDecoder()
  const members: { name: string; content: Uint8Array; mtime: number }[] = []
  let pos = 0
  while (pos + 512 <= archive.byteLength && archive.subarray(pos, pos + 512).some((b) => b !== 0)) {
    const block = archive.subarray(pos, pos + 512)
    const field = (offset: number, length: number) =>
      decoder
        .decode(block.subarray(offset, offset + length))
        .replace(/\0.*$/s, '')
        .trim()
    const size = Number.parseInt(field(124, 12), 8)
    members.push({
      name: field(0, 100),
      mtime: Number.parseInt(field(136, 12), 8),
      content: archive.slice(pos + 512, pos + 512 + size),
    })
    pos += 512 + size + ((512 - (size % 512)) % 512)
  }
  return members
}
