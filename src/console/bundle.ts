import { join } from 'node:path'

/** One file of the console, kept gzipped beside the original so a request costs no compression. */
export type ConsoleFile = { body: Uint8Array; gzip: Uint8Array; type: string }

/** The bundled console: its page and its hashed assets (served under ASSET_PREFIX). */
export type ConsoleBundle = { index: ConsoleFile; assets: Map<string, ConsoleFile> }

export const ASSET_PREFIX = '/assets/'
/** Every bundled file's name starts with this, so the binary's embedded console files are found by name. */
export const FILE_PREFIX = 'console-'
const ENTRY = join(import.meta.dir, '../../web/index.html')

type NamedBlob = { name: string; blob: Blob }

/**
 * Bundles web/ with Bun (HTML entry, minified, hashed names). scripts/build.ts writes the result
 * into the binary; from source the server bundles on its first console request.
 */
export async function bundleConsole(): Promise<NamedBlob[]> {
  const result = await Bun.build({
    entrypoints: [ENTRY],
    minify: true,
    // The terminal (xterm.js, msgpack) is a chunk of its own, loaded when a terminal opens.
    splitting: true,
    publicPath: ASSET_PREFIX,
    define: { 'process.env.NODE_ENV': '"production"' },
    naming: {
      entry: `${FILE_PREFIX}[name]-[hash].[ext]`,
      chunk: `${FILE_PREFIX}[name]-[hash].[ext]`,
      asset: `${FILE_PREFIX}[name]-[hash].[ext]`,
    },
  })
  if (!result.success) throw new AggregateError(result.logs, 'the console failed to bundle')
  return result.outputs.map((output) => ({ name: output.path.replace(/^\.\//, ''), blob: output }))
}

/**
 * The bundle as a compiled binary carries it: each file gzipped under its name plus `.gz`. The
 * extension also keeps `bun build --compile` from treating the page and scripts as entry points
 * of its own; it embeds them as plain files.
 */
export async function gzippedConsole(): Promise<NamedBlob[]> {
  const files = await bundleConsole()
  return Promise.all(
    files.map(async ({ name, blob }) => ({
      name: `${name}.gz`,
      blob: new Blob([Bun.gzipSync(new Uint8Array(await blob.arrayBuffer()), { level: 9 })]),
    })),
  )
}

function embeddedConsole(): NamedBlob[] {
  return Bun.embeddedFiles
    .map((blob) => ({ name: (blob as Blob & { name: string }).name, blob }))
    .filter((file) => file.name.startsWith(FILE_PREFIX) && file.name.endsWith('.gz'))
}

function toBundle(files: { name: string; file: ConsoleFile }[]): ConsoleBundle {
  const assets = new Map<string, ConsoleFile>()
  let index: ConsoleFile | undefined
  for (const { name, file } of files) {
    if (name.endsWith('.html')) index = file
    else assets.set(name, file)
  }
  if (!index) throw new Error('the console bundle has no page')
  return { index, assets }
}

/** Loads the console: embedded in a compiled binary, else bundled from web/ now. */
export async function loadConsole(): Promise<ConsoleBundle> {
  const embedded = embeddedConsole()
  if (embedded.length > 0) {
    const files = await Promise.all(
      embedded.map(async ({ name, blob }) => {
        const gzip = new Uint8Array(await blob.arrayBuffer())
        const plain = name.slice(0, -'.gz'.length)
        return { name: plain, file: { body: Bun.gunzipSync(gzip), gzip, type: Bun.file(plain).type } }
      }),
    )
    return toBundle(files)
  }
  const files = await Promise.all(
    (await bundleConsole()).map(async ({ name, blob }) => {
      const body = new Uint8Array(await blob.arrayBuffer())
      return { name, file: { body, gzip: Bun.gzipSync(body, { level: 9 }), type: Bun.file(name).type } }
    }),
  )
  return toBundle(files)
}
