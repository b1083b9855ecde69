import { and, type Column, eq, gte, inArray, lte, or, type SQL, sql } from 'drizzle-orm'
import type { DeploymentStatus } from './status.ts'
import type * as pgTables from './tables.pg.ts'
import { type DeploymentType, deploymentDevices, deploymentLogs, deployments } from './tables.ts'

export type DeploymentQuery = {
  ids?: string[]
  names?: string[]
  /** Text in the name or the artifact name (case-insensitive). */
  search?: string
  status?: DeploymentStatus
  createdAfter?: Date
  createdBefore?: Date
  sort: 'asc' | 'desc'
  /** Deployments for this device: named after it, or listing it. */
  forDevice?: string
  type?: DeploymentType
}

/** The tables a query reads, on either engine. */
type QueryTables = {
  deployments: typeof deployments | typeof pgTables.deployments
  deploymentDevices: typeof deploymentDevices | typeof pgTables.deploymentDevices
}

/**
 * The WHERE of a deployments query on either engine's tables. `caseless` is the engine's
 * case-insensitive LIKE (SQLite's LIKE is; PostgreSQL's is ILIKE).
 */
export function queryConditionsOn(tables: QueryTables, caseless: 'LIKE' | 'ILIKE') {
  const d = tables.deployments
  const dl = tables.deploymentDevices
  /** `like` with its wildcards taken literally. */
  const likeContains = (column: Column, text: string): SQL =>
    sql`${column} ${sql.raw(caseless)} ${`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`
  return (tenantId: string, query: DeploymentQuery): SQL | undefined => {
    const where: (SQL | undefined)[] = [eq(d.tenantId, tenantId)]
    if (query.ids) where.push(inArray(d.id, query.ids))
    if (query.names) where.push(inArray(d.name, query.names))
    if (query.search)
      where.push(or(likeContains(d.name, query.search), likeContains(d.artifactName, query.search)))
    if (query.status) where.push(eq(d.status, query.status))
    if (query.type) where.push(eq(d.type, query.type))
    if (query.createdAfter) where.push(gte(d.created, query.createdAfter))
    if (query.createdBefore) where.push(lte(d.created, query.createdBefore))
    if (query.forDevice) {
      where.push(
        or(
          eq(d.name, query.forDevice),
          sql`EXISTS (SELECT 1 FROM ${dl} WHERE ${dl.tenantId} = ${tenantId}
            AND ${dl.deviceId} = ${query.forDevice} AND ${dl.deploymentId} = ${d.id})`,
        ),
      )
    }
    return and(...where)
  }
}

export const queryConditions = queryConditionsOn({ deployments, deploymentDevices }, 'LIKE')

/** WHERE clauses the row modules of both engines share, on either engine's tables. */
export function rowConditionsOn(
  tables: Pick<QueryTables, 'deployments'> & {
    deploymentLogs: typeof deploymentLogs | typeof pgTables.deploymentLogs
  },
) {
  const d = tables.deployments
  const logs = tables.deploymentLogs
  return {
    /** The unfinished deployments of any of these artifact names (at least one). */
    activeOfNames: (tenantId: string, artifactNames: readonly string[]): SQL | undefined =>
      and(eq(d.tenantId, tenantId), inArray(d.artifactName, [...artifactNames]), sql`finished IS NULL`),
    /** One device's log in one deployment. */
    logKey: (tenantId: string, deploymentId: string, deviceId: string): SQL | undefined =>
      and(eq(logs.tenantId, tenantId), eq(logs.deploymentId, deploymentId), eq(logs.deviceId, deviceId)),
  }
}

export const rowConditions = rowConditionsOn({ deployments, deploymentLogs })
