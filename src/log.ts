import { AsyncLocalStorage } from 'node:async_hooks'
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './config.ts'

export type LogFields = Record<string, unknown>

export type Logger = {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  /** A logger that adds `fields` to every line (e.g. the request id). */
  with(fields: LogFields): Logger
  enabled(level: LogLevel): boolean
}

export type LogSink = (line: string) => void

const scope = new AsyncLocalStorage<LogFields>()

/**
 * Runs `fn` with `fields` on every line logged while it runs, across its awaits: the server runs
 * each request inside one with the request's id, so a service's log line carries it without the
 * service ever seeing the request.
 */
export function withLogFields<T>(fields: LogFields, fn: () => T): T {
  return scope.run(fields, fn)
}

/** The fields of the innermost `withLogFields` running now, if any. */
export function currentLogFields(): LogFields | undefined {
  return scope.getStore()
}

/** Where the code lives on this machine, in a stack frame: logs name files from the project root. */
const CODE_LOCATION = /(?:file:\/\/)?\/[^\s()]*?\/(?=(?:src|db|node_modules)\/)/g

/** An error as one string: its stack, with files named from the project root. */
const describeError = (err: Error) => (err.stack ?? err.message).replace(CODE_LOCATION, '')

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(describeError(value))
  if (typeof value === 'string')
    return /^[\w.:/@+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? 'undefined'
}

/** `time=... level=... msg=... key=value` */
function logfmtLine(time: string, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `time=${time} level=${level} msg=${formatValue(msg)}`
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`
  return line
}

/** One JSON object: errors become their stack, so a line is always one line. */
function jsonLine(time: string, level: LogLevel, msg: string, fields: LogFields): string {
  const record: LogFields = { time, level, msg }
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && !(k in record)) record[k] = v instanceof Error ? describeError(v) : v
  }
  return JSON.stringify(record)
}

/** Lines on stderr, logfmt (the default) or one JSON object each. */
export function createLogger(
  level: LogLevel,
  sink: LogSink = (line) => process.stderr.write(`${line}\n`),
  format: LogFormat = LOG_FORMATS[0],
) {
  const threshold = LOG_LEVELS.indexOf(level)
  const render = format === 'json' ? jsonLine : logfmtLine
  const make = (base: LogFields): Logger => {
    const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
      if (LOG_LEVELS.indexOf(lvl) < threshold) return
      sink(render(new Date().toISOString(), lvl, msg, { ...scope.getStore(), ...base, ...fields }))
    }
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      with: (fields) => make({ ...base, ...fields }),
      enabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= threshold,
    }
  }
  return make({})
}
