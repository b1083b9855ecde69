import { LOG_LEVELS, type LogLevel } from './config.ts'

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

/** Where the code lives on this machine, in a stack frame: logs name files from the project root. */
const CODE_LOCATION = /(?:file:\/\/)?\/[^\s()]*?\/(?=(?:src|db|node_modules)\/)/g

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify((value.stack ?? value.message).replace(CODE_LOCATION, ''))
  if (typeof value === 'string')
    return /^[\w.:/@+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? 'undefined'
}

/** logfmt lines on stderr: `time=... level=... msg=... key=value`. */
export function createLogger(level: LogLevel, sink: LogSink = (line) => process.stderr.write(`${line}\n`)) {
  const threshold = LOG_LEVELS.indexOf(level)
  const make = (base: LogFields): Logger => {
    const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
      if (LOG_LEVELS.indexOf(lvl) < threshold) return
      let line = `time=${new Date().toISOString()} level=${lvl} msg=${formatValue(msg)}`
      for (const [k, v] of Object.entries({ ...base, ...fields })) {
        if (v !== undefined) line += ` ${k}=${formatValue(v)}`
      }
      sink(line)
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
