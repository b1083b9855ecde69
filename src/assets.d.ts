/** A browser bundle imported `with { type: 'file' }`: Bun gives its path, embedded in a compiled binary. */
declare module '*/dist/browser/standalone.js' {
  const path: string
  export default path
}
