/**
 * Builds the standalone executable `dist/bender`: the server, its CLI, its SQL migrations and the
 * bundled console in one file (embedded as assets under their own names, where db/migrate.ts and
 * src/console/bundle.ts find them).
 * `--target` cross-compiles (e.g. bun-linux-arm64); `--outfile` changes the output path.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gzippedConsole } from '../src/console/bundle.ts'

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { outfile: { type: 'string', default: 'dist/bender' }, target: { type: 'string' } },
})
const root = join(import.meta.dir, '..')
// SQLite's and PostgreSQL's, found by file name (the PostgreSQL ones are named NNNN_pg_*).
const migrations = ['db/migrations', 'db/migrations-pg'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((name) => name.endsWith('.sql'))
    .map((name) => join(dir, name)),
)

const consoleDir = mkdtempSync(join(tmpdir(), 'bender-console-'))
const consoleFiles: string[] = []
for (const { name, blob } of await gzippedConsole()) {
  await Bun.write(join(consoleDir, name), blob)
  consoleFiles.push(join(consoleDir, name))
}

const args = [
  'build',
  '--compile',
  // Fixed so that worker entrypoints keep their source paths inside the binary (see searcher.ts).
  '--root=.',
  '--asset-naming=[name].[ext]',
  '--bytecode',
  '--format=esm',
  // Modules loaded only on use (the AWS SDK, the PostgreSQL driver, node:http for the storage proxy)
  // go to chunks of their own: in one file, the Node built-ins they import would load at start.
  '--splitting',
  ...(values.target ? [`--target=${values.target}`] : []),
  `--outfile=${values.outfile}`,
  'src/main.ts',
  // Inventory searches run on a worker thread; a compiled binary carries the worker as an entrypoint.
  'src/services/inventory/search-worker.ts',
  // The fleet gauges of /metrics are counted on a worker thread too.
  'src/metrics/worker.ts',
  // xz payloads are decoded on worker threads (see src/artifact/compression.ts).
  'src/artifact/xz-worker.ts',
  // The server checkpoints its database on a worker thread (see db/checkpointer.ts).
  'db/checkpoint-worker.ts',
  ...migrations,
  ...consoleFiles,
]
const proc = Bun.spawnSync([process.execPath, ...args], { cwd: root, stdout: 'inherit', stderr: 'inherit' })
rmSync(consoleDir, { recursive: true, force: true })
process.exit(proc.exitCode ?? 1)
