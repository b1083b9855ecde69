import type { Server } from 'bun'
import { Elysia, t } from 'elysia'
import type { AuthPlugin } from '../../gateway/auth.ts'
import { STREAM_BODY_PARSER, streamBodyParser, TRANSFER_IDLE_TIMEOUT_SECONDS } from '../../gateway/body.ts'
import type { MultipartReader } from '../../gateway/multipart.ts'
import { setPageHeaders } from '../../gateway/paging.ts'
import { created } from '../../gateway/responses.ts'
import { openMultipart, readGenerateForm, readUploadForm } from './forms.ts'
import { MAX_GENERATE_FILE_SIZE } from './generate.ts'
import { type ArtifactUpload, type GenerateRequest, ArtifactsModel as M } from './model.ts'
import type { ArtifactsService } from './service.ts'

const detail = { tags: ['deployments'] }
const ARTIFACTS_PATH = '/api/management/v1/deployments/artifacts'

/**
 * Reads a multipart form as `read` says and hands it to `use`; whatever happens, the rest of the
 * body is dropped once `use` is done with it. An upload may stall behind the blob store: it gets
 * the transfer timeout, not the API's short one.
 */
async function withForm<F, T>(
  request: Request,
  server: Pick<Server<undefined>, 'timeout'> | null,
  maxSize: number,
  read: (reader: MultipartReader, maxSize: number) => Promise<F>,
  use: (form: F) => Promise<T>,
): Promise<T> {
  server?.timeout(request, TRANSFER_IDLE_TIMEOUT_SECONDS)
  const reader = openMultipart(request, maxSize)
  try {
    return await use(await read(reader, maxSize))
  } finally {
    void reader.cancel()
  }
}

const formField = (description: string, format?: string) => ({ type: 'string' as const, description, format })

const uploadForm = {
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object' as const,
        required: ['artifact'],
        properties: {
          size: formField('Exact size of the artifact part in bytes (optional).'),
          description: formField('Artifact description.'),
          artifact_id: formField('The id to give the artifact (a UUID; optional).'),
          artifact: formField('The .mender file; must be the last part.', 'binary'),
        },
      },
    },
  },
}

const generateForm = {
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object' as const,
        required: ['name', 'device_types_compatible', 'type', 'file'],
        properties: {
          name: formField('Artifact name.'),
          description: formField('Artifact description.'),
          device_types_compatible: { type: 'array' as const, items: { type: 'string' as const } },
          type: formField('Update module (the artifact is always a single-file update, as in Mender).'),
          args: formField('JSON: {"filename": name on the device, "dest_dir": absolute directory}.'),
          file: formField('The file to install; must be the last part.', 'binary'),
        },
      },
    },
  },
}

/** `maxArtifactSize`: the most bytes an artifact upload may have (BENDER_MAX_ARTIFACT_SIZE). */
export const artifactsManagementRoutes = (svc: ArtifactsService, auth: AuthPlugin, maxArtifactSize: number) =>
  new Elysia({ prefix: '/api/management/v1/deployments', detail })
    .use(auth)
    .use(streamBodyParser)
    .get('/artifacts', ({ user, query }) => svc.listArtifacts(user.tenantId, query), {
      user: true,
      query: M.listQuery,
      response: { 200: t.Array(M.artifact) },
      detail: { summary: 'List every artifact, by name (deprecated by Mender, used by mender-cli)' },
    })
    .get(
      '/artifacts/list',
      async ({ user, query, request, set }) => {
        const { artifacts, total, paging } = await svc.listArtifactsPage(user.tenantId, query)
        setPageHeaders(set, request.url, paging, { total })
        return artifacts
      },
      { user: true, query: M.pageQuery, response: { 200: t.Array(M.artifact) } },
    )
    .post(
      '/artifacts',
      async ({ user, request, set, server }) => {
        const upload = (form: ArtifactUpload) => svc.uploadArtifact(user.tenantId, form)
        const id = await withForm(request, server, maxArtifactSize, readUploadForm, upload)
        return created(set, `${ARTIFACTS_PATH}/${id}`)
      },
      {
        user: true,
        parse: STREAM_BODY_PARSER,
        detail: {
          summary: 'Upload an artifact (parsed and checked while it streams in)',
          requestBody: uploadForm,
        },
      },
    )
    .post(
      '/artifacts/generate',
      async ({ user, request, set, server }) => {
        const generate = (form: GenerateRequest) => svc.generateArtifact(user.tenantId, form)
        const maxFileSize = Math.min(maxArtifactSize, MAX_GENERATE_FILE_SIZE)
        const id = await withForm(request, server, maxFileSize, readGenerateForm, generate)
        return created(set, `${ARTIFACTS_PATH}/${id}`)
      },
      {
        user: true,
        parse: STREAM_BODY_PARSER,
        detail: { summary: 'Generate a single-file artifact from a file', requestBody: generateForm },
      },
    )
    .post('/artifacts/directupload', ({ user }) => svc.requestDirectUpload(user.tenantId), {
      user: true,
      response: { 200: M.uploadLink },
      detail: { summary: 'A link to PUT an artifact to the storage proxy (always enabled in bender)' },
    })
    .post(
      '/artifacts/directupload/:id/complete',
      async ({ user, params, set }) => {
        await svc.completeDirectUpload(user.tenantId, params.id)
        set.status = 202
      },
      {
        user: true,
        params: M.idParams,
        body: M.completeUpload,
        detail: { summary: 'Check and record a direct upload (in the background)' },
      },
    )
    .get('/artifacts/:id', ({ user, params }) => svc.getArtifact(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: M.artifact },
    })
    .put(
      '/artifacts/:id',
      async ({ user, params, body, set }) => {
        await svc.editArtifact(user.tenantId, params.id, body?.description ?? '')
        set.status = 204
      },
      { user: true, params: M.idParams, body: t.Optional(t.Nullable(M.edit)) },
    )
    .delete(
      '/artifacts/:id',
      async ({ user, params, set }) => {
        await svc.deleteArtifact(user.tenantId, params.id)
        set.status = 204
      },
      { user: true, params: M.idParams },
    )
    .get('/artifacts/:id/download', ({ user, params }) => svc.downloadLink(user.tenantId, params.id), {
      user: true,
      params: M.idParams,
      response: { 200: M.link },
    })
    .get('/limits/:name', ({ user, params }) => svc.limit(user.tenantId, params.name), {
      user: true,
      params: t.Object({ name: t.String() }),
      response: { 200: M.storageLimit },
    })

export const artifactsManagementV2Routes = (svc: ArtifactsService, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api/management/v2/deployments', detail }).use(auth).get(
    '/artifacts',
    async ({ user, query, request, set }) => {
      const { artifacts, hasNext, paging } = await svc.listArtifactsV2(user.tenantId, query)
      setPageHeaders(set, request.url, paging, { hasNext })
      return artifacts
    },
    { user: true, query: M.listV2Query, response: { 200: t.Array(M.artifact) } },
  )
