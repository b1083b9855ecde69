import type { toOpenAPISchema } from '@elysiajs/openapi'
import { type AnyElysia, Elysia } from 'elysia'
// A path inside node_modules: the package exports no subpath for its browser bundle.
import uiScript from '../../node_modules/@scalar/api-reference/dist/browser/standalone.js' with {
  type: 'file',
}
import { VERSION } from '../version.ts'

type Operation = { requestBody?: { content?: Record<string, unknown> } }
type Document = ReturnType<typeof toOpenAPISchema>
type Route = { method: string; path: string; hooks?: { body?: unknown } }

/**
 * The OpenAPI generator names request content types only from string `parse` hooks; bender's
 * bodies all go through the gateway's parser (a function), so the generator leaves them empty.
 * Those bodies are JSON: fill them in from each route's body schema (TypeBox is JSON Schema).
 */
function withJsonBodies(document: Document, routes: readonly Route[]): Document {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}')
    const body = paths[path]?.[route.method.toLowerCase()]?.requestBody
    if (!body || (body.content && Object.keys(body.content).length > 0)) continue
    const schema = route.hooks?.body === undefined ? {} : JSON.parse(JSON.stringify(route.hooks.body))
    body.content = { 'application/json': { schema } }
  }
  return document
}

/**
 * The docs UI: Scalar's standalone bundle, served from the package (and embedded in the compiled
 * binary by this file import), so the page loads no script from anywhere but bender itself.
 */
const UI_SCRIPT_PATH = '/api/docs/scalar.js'

const page = `<!doctype html>
<html>
  <head>
    <title>bender API</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <script id="api-reference" data-url="/api/docs/json" data-configuration='{"withDefaultFonts":false}'></script>
    <script src="${UI_SCRIPT_PATH}"></script>
  </body>
</html>
`

/** Only bender's own origin: the UI injects its styles inline and draws some images as data URLs. */
const PAGE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

/** `/api/docs/json`, the OpenAPI document generated from the route schemas, and a browsable UI at `/api/docs`. */
export const apiDocs = (app: () => AnyElysia) => {
  // The routes are all registered before the first request: the document is made once.
  let document: Promise<unknown> | undefined
  const make = async () => {
    // The generator is loaded on the first request for the document: it is a large share of start-up.
    const { toOpenAPISchema } = await import('@elysiajs/openapi')
    const target = app()
    const { paths, components } = withJsonBodies(toOpenAPISchema(target), target.routes as Route[])
    return {
      openapi: '3.1.2',
      info: {
        title: 'bender',
        version: VERSION,
        description: 'A Mender-compatible OTA update server: Mender’s device, management and internal APIs.',
      },
      paths,
      components,
    }
  }
  return new Elysia({ name: 'gateway.docs', detail: { hide: true } })
    .get(
      '/api/docs',
      () =>
        new Response(page, {
          headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_POLICY },
        }),
    )
    .get(
      UI_SCRIPT_PATH,
      () =>
        new Response(Bun.file(uiScript), { headers: { 'content-type': 'text/javascript; charset=utf-8' } }),
    )
    .get('/api/docs/json', () => {
      // A failed attempt is not kept: the next request tries again.
      document ??= make().catch((err) => {
        document = undefined
        throw err
      })
      return document
    })
}
