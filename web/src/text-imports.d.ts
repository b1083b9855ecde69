/** Files bundled as text (`import x from './file.css' with { type: 'text' }`). */
declare module '*.css' {
  const text: string
  export default text
}
