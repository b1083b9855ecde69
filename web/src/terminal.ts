import { FitAddon } from '@xterm/addon-fit'
import { Terminal } from '@xterm/xterm'
import xtermCss from '@xterm/xterm/css/xterm.css' with { type: 'text' }
import { Packr } from 'msgpackr'

/**
 * A remote terminal to a device: xterm.js in the page, speaking Mender's deviceconnect shell
 * protocol (msgpack messages `{hdr: {proto, typ, sid, props}, body}`) over the management
 * websocket. This module is loaded only when a terminal is opened, so xterm.js and msgpack do not
 * weigh on the console's first load.
 */

const SHELL = 1
const CONTROL = 0xffff
const STATUS_ERROR = 2
/** mender-connect takes terminal input in messages of at most this many bytes. */
const INPUT_CHUNK = 1024
const CONNECT_PATH = '/api/management/v1/deviceconnect/devices'

const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

type Header = { proto: number; typ?: string; sid?: string; props?: Record<string, unknown> }
type Message = { hdr: Header; body?: Uint8Array | string | Record<string, unknown> }

export type TerminalSession = { close(): void; focus(): void }

/**
 * A browser cannot put an Authorization header on a websocket, and bender (like Mender) also reads
 * the token from a `JWT` cookie on GET requests. The cookie is set for the deviceconnect path only,
 * lives five seconds, is SameSite=Strict (never sent by another site's page) and is removed as
 * soon as the socket opens: the token lives in sessionStorage, not in the cookie jar.
 */
function setHandshakeCookie(token: string | undefined): void {
  const secure = location.protocol === 'https:' ? '; secure' : ''
  const value = token === undefined ? 'JWT=; max-age=0' : `JWT=${token}; max-age=5`
  // biome-ignore lint/suspicious/noDocumentCookie: the cookie must be set before the socket is made, synchronously; a JWT needs no escaping.
  document.cookie = `${value}; path=${CONNECT_PATH}/; samesite=strict${secure}`
}

/**
 * xterm.js writes its computed styles (colours, cell sizes) into `<style>` elements, which the
 * console's Content-Security-Policy (`style-src 'self'`) refuses. While xterm.js builds its
 * elements, a `style` it asks for is an inert element whose text goes into a constructed style
 * sheet instead, which the policy does not cover; its own style sheet (bundled as text into this
 * lazily loaded module) is one too. The sheets leave with the terminal.
 */
function constructedStyles(build: () => void): () => void {
  const base = new CSSStyleSheet()
  base.replaceSync(xtermCss)
  const sheets: CSSStyleSheet[] = [base]
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, base]
  const create = document.createElement
  document.createElement = ((tag: string, options?: ElementCreationOptions) => {
    if (tag.toLowerCase() !== 'style') return create.call(document, tag, options)
    const sheet = new CSSStyleSheet()
    sheets.push(sheet)
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet]
    const holder = create.call(document, 'template')
    Object.defineProperty(holder, 'textContent', {
      set: (css: string) => sheet.replaceSync(css),
      get: () => [...sheet.cssRules].map((rule) => rule.cssText).join('\n'),
    })
    return holder
  }) as typeof document.createElement
  try {
    build()
  } finally {
    document.createElement = create
  }
  return () => {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !sheets.includes(s))
  }
}

function asText(body: Message['body']): string {
  if (body instanceof Uint8Array) return decoder.decode(body)
  return typeof body === 'string' ? body : ''
}

/** Opens a shell on the device in `container`; `onEnd` hears why it ended. */
export function openTerminal(
  container: HTMLElement,
  deviceId: string,
  token: string,
  onEnd: (reason: string) => void,
): TerminalSession {
  const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 })
  const fit = new FitAddon()
  term.loadAddon(fit)
  const dropStyles = constructedStyles(() => term.open(container))
  fit.fit()
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  setHandshakeCookie(token)
  const socket = new WebSocket(
    `${scheme}://${location.host}${CONNECT_PATH}/${encodeURIComponent(deviceId)}/connect`,
  )
  socket.binaryType = 'arraybuffer'
  let sid = ''
  let ended = false
  const send = (message: Message) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(packr.pack(message))
  }
  const end = (reason: string) => {
    if (ended) return
    ended = true
    term.write(`\r\n\x1b[2m${reason}\x1b[0m\r\n`)
    onEnd(reason)
  }
  socket.onopen = () => {
    setHandshakeCookie(undefined)
    send({
      hdr: { proto: SHELL, typ: 'new', props: { terminal_width: term.cols, terminal_height: term.rows } },
    })
  }
  socket.onerror = () => setHandshakeCookie(undefined)
  socket.onclose = (event) => end(event.reason ? `Connection closed: ${event.reason}.` : 'Connection closed.')
  socket.onmessage = (event) => {
    const message = packr.unpack(new Uint8Array(event.data as ArrayBuffer)) as Message
    const { proto, typ, props } = message.hdr
    if (proto === CONTROL && typ === 'error') {
      const body = message.body as { err?: string } | undefined
      end(`The device refused: ${body?.err ?? 'unknown error'}.`)
      return
    }
    if (proto !== SHELL) return
    if (typ === 'new') {
      if (props?.status === STATUS_ERROR) return end(`The device refused the shell: ${asText(message.body)}.`)
      sid = message.hdr.sid ?? ''
      term.focus()
    } else if (typ === 'shell') {
      term.write(message.body instanceof Uint8Array ? message.body : asText(message.body))
    } else if (typ === 'ping') {
      send({ hdr: { proto: SHELL, typ: 'pong', sid } })
    } else if (typ === 'stop') {
      const why = asText(message.body)
      end(why ? `The shell ended: ${why}.` : 'The shell ended.')
      socket.close()
    }
  }
  term.onData((data) => {
    const bytes = encoder.encode(data)
    for (let at = 0; at < bytes.length; at += INPUT_CHUNK) {
      send({ hdr: { proto: SHELL, typ: 'shell', sid }, body: bytes.subarray(at, at + INPUT_CHUNK) })
    }
  })
  term.onResize(({ cols, rows }) =>
    send({
      hdr: { proto: SHELL, typ: 'resize', sid, props: { terminal_width: cols, terminal_height: rows } },
    }),
  )
  const refit = () => fit.fit()
  window.addEventListener('resize', refit)
  return {
    focus: () => term.focus(),
    close() {
      window.removeEventListener('resize', refit)
      if (sid) send({ hdr: { proto: SHELL, typ: 'stop', sid } })
      ended = true
      socket.close()
      term.dispose()
      dropStyles()
    },
  }
}
