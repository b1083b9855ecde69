import type { Config } from '../config.ts'
import { ApiError } from '../gateway/errors.ts'

/** How long a refused download is told to wait: a device retries its download well within its poll interval. */
const RETRY_AFTER_SECONDS = 30

/** True when the storage proxy caps downloads (which then run over node:http: see server.ts). */
export const downloadsCapped = (config: Config) =>
  config.storageMaxDownloads > 0 || config.storageDownloadRate > 0

export type DownloadGate = {
  /**
   * Admits one download (throws a 503 with Retry-After when the cap is reached) and returns its
   * body paced to the per-download rate; the slot is released once its `length` bytes are handed
   * over, or when the body fails or is dropped.
   */
  admit(body: Blob | ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array>
  active(): number
}

/**
 * Caps downloads by count and paces each to a byte rate. Each request is one download: a client
 * resuming with `Range` starts afresh, its earlier bytes counting against nothing.
 */
export function createDownloadGate(config: Config): DownloadGate {
  const max = config.storageMaxDownloads
  const rate = config.storageDownloadRate
  let active = 0
  return {
    admit(body, length) {
      if (max > 0 && active >= max) {
        throw new ApiError(503, 'too many downloads at once, try again later', undefined, {
          'retry-after': String(RETRY_AFTER_SECONDS),
        })
      }
      active++
      let released = false
      const release = () => {
        if (!released) active--
        released = true
      }
      const reader = (body instanceof Blob ? body.stream() : body).getReader()
      const started = performance.now()
      let sent = 0
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read()
            if (done) {
              release()
              controller.close()
              return
            }
            controller.enqueue(value)
            sent += value.byteLength
            if (sent >= length) release()
            // Hold the next read until the bytes so far fit the rate.
            const due = rate > 0 ? started + (sent / rate) * 1000 - performance.now() : 0
            if (due > 0) await Bun.sleep(due)
          } catch (err) {
            release()
            controller.error(err)
          }
        },
        cancel(reason) {
          release()
          return reader.cancel(reason)
        },
      })
    },
    active: () => active,
  }
}
