import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const users = sqliteTable(
  'useradm_users',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    /** Stored lower-cased: logins and uniqueness are case-insensitive. */
    email: text().notNull(),
    passwordHash: text().notNull(),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    updatedTs: integer({ mode: 'timestamp_ms' }).notNull(),
    loginTs: integer({ mode: 'timestamp_ms' }),
  },
  (t) => [uniqueIndex('useradm_users_email').on(t.tenantId, t.email)],
)

/**
 * Every live user token, by its `jti`: login sessions (no name) and personal access tokens (named).
 * A token whose row is gone is revoked.
 */
export const userTokens = sqliteTable(
  'useradm_tokens',
  {
    id: text().primaryKey(),
    tenantId: text().notNull().default(''),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Null for login sessions; the token's name for personal access tokens. */
    name: text(),
    expiresTs: integer({ mode: 'timestamp_ms' }),
    createdTs: integer({ mode: 'timestamp_ms' }).notNull(),
    lastUsedTs: integer({ mode: 'timestamp_ms' }),
  },
  (t) => [
    index('useradm_tokens_user').on(t.userId, t.createdTs),
    uniqueIndex('useradm_tokens_name').on(t.tenantId, t.userId, t.name).where(sql`${t.name} IS NOT NULL`),
  ],
)

/** Free-form settings objects: the tenant's (userId '') and each user's own. */
export const settings = sqliteTable(
  'useradm_settings',
  {
    tenantId: text().notNull().default(''),
    userId: text().notNull(),
    value: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    etag: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] })],
)
