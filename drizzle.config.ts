import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'sqlite',
  schema: ['./src/services/*/tables*.ts', './src/events/tables.ts'],
  out: './db/migrations',
  casing: 'snake_case',
})
