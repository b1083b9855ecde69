/**
 * Runs the real Mender tools. A missing tool makes the calling test fail (spawn throws ENOENT); it
 * never turns into a skipped test.
 */

export function run(command: string[], cwd?: string): string {
  // UTC so that `mender-artifact read` prints times the tests can compare.
  const result = Bun.spawnSync(command, {
    cwd,
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, TZ: 'UTC' },
  })
  if (result.exitCode !== 0) {
    throw new Error(`${command.join(' ')} exited with ${result.exitCode}: ${result.stderr.toString()}`)
  }
  return result.stdout.toString()
}

export function menderArtifact(args: string[], cwd?: string): string {
  return run(['mender-artifact', ...args], cwd)
}

export type ReadFile = { name: string; size: number; modified: string; checksum: string }

export type ReadOutput = {
  name: string
  format: string
  version: number
  signature: string
  devices: string[]
  providesGroup: string
  dependsArtifacts: string[]
  dependsGroups: string[]
  updates: {
    type: string
    provides: Record<string, string>
    depends: Record<string, string>
    clears: string
    metadata?: unknown
    files: ReadFile[]
  }[]
}

const bracketList = (value: string) => {
  const inner = value.replace(/^'?\[/, '').replace(/\]'?$/, '').trim()
  return inner === '' ? [] : inner.split(' ')
}

/** The parts of `mender-artifact read` output that the server's reader also extracts. */
export function readArtifactWithTool(path: string): ReadOutput {
  const lines = menderArtifact(['read', '--no-progress', path]).split('\n')
  // Format 2 artifacts have no provides or depends lines: those read as empty.
  const field = (label: string) => {
    const line = lines.find((l) => l.trimStart().startsWith(`${label}:`))
    return line === undefined ? '' : line.slice(line.indexOf(':') + 1).trim()
  }
  const out: ReadOutput = {
    name: field('Name'),
    format: field('Format'),
    version: Number(field('Version')),
    signature: field('Signature'),
    devices: bracketList(field('Compatible devices')),
    providesGroup: field('Provides group'),
    dependsArtifacts: bracketList(field('Depends on one of artifact(s)')),
    dependsGroups: bracketList(field('Depends on one of group(s)')),
    updates: [],
  }
  let section = ''
  let metadata: string[] | undefined
  for (const line of lines.slice(lines.findIndex((l) => l.startsWith('Updates:')) + 1)) {
    const update = out.updates.at(-1)
    const trimmed = line.trim()
    if (metadata && update) {
      metadata.push(line)
      if (line.startsWith('\t}')) {
        update.metadata = JSON.parse(metadata.join('\n'))
        metadata = undefined
      }
      continue
    }
    if (/^\s+Type:/.test(line)) {
      out.updates.push({ type: trimmed.slice(5).trim(), provides: {}, depends: {}, clears: '', files: [] })
    } else if (!update) {
    } else if (/^\s+(Provides|Depends):/.test(line)) {
      section = trimmed.startsWith('Provides') ? 'provides' : 'depends'
    } else if (trimmed.startsWith('Clears Provides:')) {
      update.clears = trimmed.slice('Clears Provides:'.length).trim()
      section = ''
    } else if (trimmed === 'Metadata:') {
      metadata = []
      section = ''
    } else if (line.startsWith('\t') && (section === 'provides' || section === 'depends')) {
      const at = trimmed.indexOf(': ')
      update[section][trimmed.slice(0, at)] = trimmed.slice(at + 2)
    } else if (trimmed.startsWith('name:')) {
      update.files.push({ name: trimmed.slice(5).trim(), size: 0, modified: '', checksum: '' })
    } else if (/^(size|modified|checksum):/.test(trimmed)) {
      const file = update.files.at(-1)
      const [key = '', ...rest] = trimmed.split(':')
      const value = rest.join(':').trim()
      if (file && key === 'size') file.size = Number(value)
      if (file && key === 'modified') file.modified = value
      if (file && key === 'checksum') file.checksum = value
    }
  }
  return out
}

/** mender-artifact prints times as `2006-01-02 15:04:05 +0000 UTC`; the reader gives ISO strings. */
export function toolTimeToIso(modified: string): string {
  const [date, time] = modified.split(' ')
  return new Date(`${date}T${time}Z`).toISOString()
}
