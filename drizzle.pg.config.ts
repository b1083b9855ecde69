import { defineConfig } from 'drizzle-kit'

/** PostgreSQL's schema: the same tables as drizzle.config.ts, from each service's `tables.pg.ts`. */
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/services/*/tables.pg.ts', './src/events/tables.pg.ts', './src/cluster/tables.pg.ts'],
  out: './db/migrations-pg',
  casing: 'snake_case',
})
