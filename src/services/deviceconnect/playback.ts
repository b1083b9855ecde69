import type { Peer } from './hub.ts'
import { encodeMessage, message, PROTO_SHELL, SHELL_STATUS } from './protocol.ts'
import { CLOSE_NORMAL } from './session.ts'
import type { DeviceconnectStore } from './store.ts'

/** Replayed output goes out in messages of at most this size (what a browser terminal takes easily). */
const PLAYBACK_MESSAGE = 4096
/** Pieces read from the store at a time, so memory stays bounded whatever the recording's size. */
const PIECES_PER_READ = 16

/**
 * Sends a session's recorded terminal output as shell messages under the session's id, pausing
 * `sleepMs` between messages, then a `stop` and a normal close.
 */
export async function replayRecording(
  store: DeviceconnectStore,
  options: { tenantId: string; sessionId: string; peer: Peer; sleepMs: number },
): Promise<void> {
  const { tenantId, sessionId, peer, sleepMs } = options
  let after = -1
  for (;;) {
    const pieces = await store.readRecording(tenantId, sessionId, after, PIECES_PER_READ)
    if (pieces.length === 0) break
    for (const piece of pieces) {
      for (let at = 0; at < piece.data.length; at += PLAYBACK_MESSAGE) {
        const body = piece.data.subarray(at, at + PLAYBACK_MESSAGE)
        peer.send(
          encodeMessage(
            message({
              proto: PROTO_SHELL,
              typ: 'shell',
              sid: sessionId,
              props: { status: SHELL_STATUS.normal },
              body,
            }),
          ),
        )
        if (sleepMs > 0) await Bun.sleep(sleepMs)
      }
      after = piece.seq
    }
  }
  peer.send(
    encodeMessage(
      message({ proto: PROTO_SHELL, typ: 'stop', sid: sessionId, props: { status: SHELL_STATUS.normal } }),
    ),
  )
  peer.close(CLOSE_NORMAL, 'playback finished')
}
