import type { Server } from 'bun'

/** IPv4 peers may be reported in their IPv6-mapped form; one spelling per address. */
const plain = (address: string) => (address.startsWith('::ffff:') ? address.slice(7) : address)

/**
 * The IP address of the client behind a request: the peer's, or, when the peer is one of
 * `trustedProxies`, the nearest address in its `X-Forwarded-For` that is not a trusted proxy.
 * '' when unknown (a request handled in-process, without a socket).
 */
export function clientAddress(
  request: Request,
  server: Pick<Server<undefined>, 'requestIP'> | null | undefined,
  trustedProxies: readonly string[],
): string {
  let address = plain(server?.requestIP(request)?.address ?? '')
  if (trustedProxies.length === 0 || !trustedProxies.includes(address)) return address
  const forwarded = (request.headers.get('x-forwarded-for') ?? '').split(',')
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = plain(forwarded[i]!.trim())
    if (hop === '') break
    address = hop
    if (!trustedProxies.includes(hop)) break
  }
  return address
}
