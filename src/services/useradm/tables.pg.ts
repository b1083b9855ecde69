import { sql } from 'drizzle-orm'
import { index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { json, ms, rowid } from '../../../db/pg-columns.ts'

/** useradm's tables on PostgreSQL (see tables.ts). */
export const users = pgTable(
  'useradm_users',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    email: text().notNull(),
    passwordHash: text().notNull(),
    createdTs: ms().notNull(),
    updatedTs: ms().notNull(),
    loginTs: ms(),
  },
  (t) => [uniqueIndex('useradm_users_email').on(t.tenantId, t.email)],
)

export const userTokens = pgTable(
  'useradm_tokens',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text(),
    expiresTs: ms(),
    createdTs: ms().notNull(),
    lastUsedTs: ms(),
    rowid: rowid(),
  },
  (t) => [
    index('useradm_tokens_user').on(t.userId, t.createdTs),
    uniqueIndex('useradm_tokens_name').on(t.tenantId, t.userId, t.name).where(sql`${t.name} IS NOT NULL`),
  ],
)

export const settings = pgTable(
  'useradm_settings',
  {
    tenantId: text().notNull().default(''),
    userId: text().notNull(),
    value: json().$type<Record<string, unknown>>().notNull(),
    etag: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] })],
)
