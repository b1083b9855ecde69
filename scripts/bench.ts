#!/usr/bin/env bun
/**
 * bender's benchmarks, one area at a time; every figure is measured in the same run as its
 * baseline (a bare Bun.serve, or raw file serving/writing), and memory is reported as RSS.
 *
 *   bun scripts/bench.ts <area> [options of that area]
 *
 * Areas (each script's header documents its options):
 *   storage      download through the storage proxy ÷ raw Bun.file serving; RSS over a 2 GiB download
 *   deviceauth   device auth requests/s and cached-token device requests/s ÷ a bare Bun.serve hello
 *   inventory    v2 search p50/p99 over a seeded data dir (scripts/seed.ts), device requests under load;
 *                --engines sqlite,postgres: on both engines (the data dir copied into PostgreSQL), side by side
 *   artifacts    upload + parse ÷ raw disk write (uncompressed and gzip payloads); RSS over a 2 GiB upload
 *   deployments  device polls over 1M seeded devices ÷ a bare Bun.serve hello, p50/p99, RSS; a rollout
 *                burst to 100 000 devices: status writes/s and time to finished; --engines sqlite,postgres
 *                --instances 2: on SQLite, PostgreSQL with one bender and with two, side by side
 *   startup      time from start to the first answer (fresh, empty, a seeded data dir) ÷ a bare Bun.serve's
 *   deviceconnect 10 000 idle device websockets: RSS per connection, idle CPU, device polls/s while
 *                held ÷ without them; terminal round trip through the relay ÷ a bare Bun websocket echo
 *   console      first-load size and time in chromium; the device table's page time over a seeded fleet
 *   fleet        an open-loop Mender mix (polls, inventory, auth, lists) from N distinct devices at a
 *                list of rates: per-kind p50/p99/max, errors, bender's CPU and RSS, the generator's CPU
 *   metrics      device polls/s of a bender with metrics on ÷ one with them off, side by side in one run
 *   dynamic      a bulk group assignment of 10 000 devices with and without an active dynamic
 *                deployment whose filter names the group: the call and the match work, side by side
 *   revocations  the device check on PostgreSQL with the shared revocation count read before it,
 *                beside the in-process count alone and a bare primary-key read
 *
 * Nothing here is asserted: the tests never time anything.
 */
import { join } from 'node:path'

const AREAS = [
  'storage',
  'deviceauth',
  'inventory',
  'artifacts',
  'deployments',
  'startup',
  'deviceconnect',
  'console',
  'fleet',
  'metrics',
  'dynamic',
  'revocations',
] as const

const [area, ...rest] = Bun.argv.slice(2)
if (!area || !(AREAS as readonly string[]).includes(area)) {
  console.error(`usage: bun scripts/bench.ts <${AREAS.join('|')}> [options]`)
  process.exit(2)
}
const proc = Bun.spawn([process.execPath, join(import.meta.dir, `bench-${area}.ts`), ...rest], {
  stdio: ['inherit', 'inherit', 'inherit'],
})
process.exit(await proc.exited)
