/** One server-sent event as the console's stream writes it. */
export type Sse = { id: string; event: string; data: any }

/** Reads server-sent events from a streamed response until `done` says enough. */
export async function readEvents(res: Response, done: (events: Sse[]) => boolean): Promise<Sse[]> {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const events: Sse[] = []
  let buffer = ''
  while (!done(events)) {
    const { value, done: ended } = await reader.read()
    if (ended) break
    buffer += decoder.decode(value, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const field = (name: string) => block.match(new RegExp(`^${name}: (.*)$`, 'm'))?.[1]
      if (field('event'))
        events.push({ id: field('id')!, event: field('event')!, data: JSON.parse(field('data')!) })
      end = buffer.indexOf('\n\n')
    }
  }
  await reader.cancel()
  return events
}
