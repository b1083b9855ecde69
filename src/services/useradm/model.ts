import { t } from 'elysia'

const timestamp = t.String({ format: 'date-time' })

/** A personal access token lives at most a year. */
export const MAX_PERSONAL_TOKEN_TTL = 31536000
export const MAX_TOKEN_NAME_LENGTH = 256

export const UseradmModel = {
  loginOptions: t.Optional(
    t.Nullable(
      t.Object({ no_expiry: t.Optional(t.Boolean({ description: 'Issue a token that never expires.' })) }),
    ),
  ),
  user: t.Object({
    id: t.String(),
    email: t.String(),
    created_ts: timestamp,
    updated_ts: timestamp,
    login_ts: t.Optional(timestamp),
    roles: t.Array(t.String(), {
      description: 'Always the one role that may do everything: bender has no role-based access control.',
    }),
  }),
  userNew: t.Object({ email: t.String(), password: t.String() }),
  userUpdate: t.Object({
    email: t.Optional(t.String()),
    password: t.Optional(t.String()),
    current_password: t.Optional(t.String()),
  }),
  ownUserUpdateV2: t.Object({ password: t.Optional(t.String()), current_password: t.Optional(t.String()) }),
  usersQuery: t.Object({
    id: t.Optional(t.Array(t.String(), { description: 'Only these user ids (repeatable).' })),
    email: t.Optional(t.Array(t.String(), { description: 'Only these emails (repeatable).' })),
    created_after: t.Optional(t.Numeric({ description: 'Unix seconds.' })),
    created_before: t.Optional(t.Numeric({ description: 'Unix seconds.' })),
    updated_after: t.Optional(t.Numeric({ description: 'Unix seconds.' })),
    updated_before: t.Optional(t.Numeric({ description: 'Unix seconds.' })),
  }),
  settings: t.Record(t.String(), t.Unknown(), { description: 'Any JSON object.' }),
  // Elysia coerces arrays and strings into objects for object schemas; the service checks the shape.
  settingsBody: t.Unknown({ description: 'Any JSON object (at most 1024 keys).' }),
  ifMatch: t.Object({ 'if-match': t.Optional(t.String()) }),
  tokenRequest: t.Object({
    name: t.String({ maxLength: MAX_TOKEN_NAME_LENGTH }),
    expires_in: t.Optional(
      t.Integer({
        minimum: 0,
        maximum: MAX_PERSONAL_TOKEN_TTL,
        description: 'Seconds until expiry; 0 or absent: never (max one year).',
      }),
    ),
  }),
  personalToken: t.Object({
    id: t.String(),
    name: t.String(),
    created_ts: timestamp,
    expiration_date: t.Optional(timestamp),
    last_used: t.Optional(timestamp),
  }),
  idParams: t.Object({ id: t.String() }),
}
