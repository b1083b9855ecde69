import { afterAll } from 'bun:test'
import { stopTestPostgres } from './postgres.ts'

// `bun test` runs no exit handlers: the run's shared PostgreSQL stops here, after the last file.
afterAll(stopTestPostgres)
