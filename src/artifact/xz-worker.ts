import { XzReadableStream } from 'xz-decompress'

/** What the decoding thread is sent: compressed input (`null` ends it) or room for more output. */
export type XzRequest = { input: Uint8Array | null } | { more: true }
/** What it sends back: a request for input, decoded output, the end, or why decoding failed. */
export type XzReply =
  | { pull: true }
  | { output: Uint8Array }
  | { done: true }
  | { fail: string; truncated: boolean }

declare const self: Worker

/** Decoded chunks that may wait for the reader at once: enough to overlap decoding and hashing. */
const OUTPUT_WINDOW = 4

let room = OUTPUT_WINDOW
let roomMade: (() => void) | undefined
let inputArrived: ((input: Uint8Array | null) => void) | undefined

self.onmessage = (event: MessageEvent<XzRequest>) => {
  const message = event.data
  if ('more' in message) {
    room++
    roomMade?.()
    roomMade = undefined
    return
  }
  inputArrived?.(message.input)
  inputArrived = undefined
}

// Input is asked for only when the decoder wants it, so the other thread never reads ahead.
const compressed = new ReadableStream<Uint8Array>(
  {
    pull: (controller) =>
      new Promise<void>((resolve) => {
        inputArrived = (input) => {
          if (input === null) controller.close()
          else controller.enqueue(input)
          resolve()
        }
        self.postMessage({ pull: true } satisfies XzReply)
      }),
  },
  { highWaterMark: 0 },
)

async function decode(): Promise<void> {
  const reader = new XzReadableStream(compressed).getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      while (room === 0) await new Promise<void>((resolve) => (roomMade = resolve))
      room--
      // Copied out and handed over: the decoder may reuse its buffer, and a view would post all of it.
      const output = new Uint8Array(value)
      self.postMessage({ output } satisfies XzReply, [output.buffer])
    }
    self.postMessage({ done: true } satisfies XzReply)
  } catch (err) {
    // xz-decompress dereferences a missing chunk (a TypeError) when its input ends too early.
    const fail = err instanceof Error ? err.message : String(err)
    self.postMessage({ fail, truncated: err instanceof TypeError } satisfies XzReply)
  }
}

void decode()
