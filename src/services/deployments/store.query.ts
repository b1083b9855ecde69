import { and, eq, gte, inArray, lte, or, type SQL, sql } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { DeploymentStatus } from './status.ts'
import { type DeploymentType, deploymentDevices, deployments } from './tables.ts'

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

/** `like` with its wildcards taken literally. */
const likeContains = (column: SQLiteColumn, text: string): SQL =>
  sql`${column} LIKE ${`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`

export function queryConditions(tenantId: string, query: DeploymentQuery): SQL | undefined {
  const where: (SQL | undefined)[] = [eq(deployments.tenantId, tenantId)]
  if (query.ids) where.push(inArray(deployments.id, query.ids))
  if (query.names) where.push(inArray(deployments.name, query.names))
  if (query.search) {
    where.push(
      or(likeContains(deployments.name, query.search), likeContains(deployments.artifactName, query.search)),
    )
  }
  if (query.status) where.push(eq(deployments.status, query.status))
  if (query.type) where.push(eq(deployments.type, query.type))
  if (query.createdAfter) where.push(gte(deployments.created, query.createdAfter))
  if (query.createdBefore) where.push(lte(deployments.created, query.createdBefore))
  if (query.forDevice) {
    where.push(
      or(
        eq(deployments.name, query.forDevice),
        sql`EXISTS (SELECT 1 FROM ${deploymentDevices} WHERE ${deploymentDevices.tenantId} = ${tenantId}
          AND ${deploymentDevices.deviceId} = ${query.forDevice} AND ${deploymentDevices.deploymentId} = ${deployments.id})`,
      ),
    )
  }
  return and(...where)
}
