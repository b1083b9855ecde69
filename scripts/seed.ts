#!/usr/bin/env bun
/**
 * Fills a data dir with N devices as a real fleet would leave it: identity (mac, status: mostly
 * accepted), system (created, updated, check-in times, static groups for most) and about fifteen
 * inventory attributes from a dozen device types, numbers and arrays included.
 *
 *   bun scripts/seed.ts [--data-dir ./data] [--devices 1000000] [--seed 1] [--tokens]
 *
 * Rows go in through prepared statements in large transactions. Into an empty inventory the value
 * indexes are dropped first and rebuilt once at the end (one sort instead of millions of random
 * B-tree inserts). Deviceauth's tables are left alone, unless --tokens: then every device also gets
 * its deviceauth device row (identity `{"mac": …}`) and auth set, and every accepted one a live token
 * row (its jti is the auth set id), so a load generator holding the server's JWT key can sign a
 * distinct token per device (scripts/bench-fleet.ts does). The first KEYED_DEVICES accepted devices
 * get real Ed25519 keys, kept in `<data-dir>/bench-device-keys.json`, so their auth requests verify.
 */
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.ts'
import { buildDeps, sqliteOf } from '../src/deps.ts'
import { identityHash, normaliseIdentity } from '../src/services/deviceauth/identity.ts'
import { STATUS_CODES } from '../src/services/inventory/model.ts'
import { DEVICE_ID } from '../src/services/inventory/names.ts'
import { createInventoryRows } from '../src/services/inventory/store.rows.ts'
import { buildTexts } from '../src/services/inventory/text.ts'
import { type AttributeInput, toRows } from '../src/services/inventory/values.ts'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: './data' },
    devices: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    tokens: { type: 'boolean', default: false },
  },
})
const total = Number(args.devices)
if (!Number.isInteger(total) || total < 1) throw new Error('--devices must be a positive integer')

/** Deterministic pseudo-random numbers (mulberry32), so two seeds of the same size match. */
let state = Number(args.seed) >>> 0
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0
  let x = state
  x = Math.imul(x ^ (x >>> 15), x | 1)
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!
const int = (n: number) => Math.floor(random() * n)
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
const uuid = () =>
  `${hex(int(2 ** 32), 8)}-${hex(int(2 ** 16), 4)}-4${hex(int(2 ** 12), 3)}-${hex(8 + int(4), 1)}${hex(int(2 ** 12), 3)}-${hex(int(2 ** 24), 6)}${hex(int(2 ** 24), 6)}`

const DEVICE_TYPES = [
  'raspberrypi4',
  'raspberrypi3',
  'raspberrypi0w',
  'beaglebone-yocto',
  'qemux86-64',
  'imx8mm-evk',
  'jetson-nano',
  'rockpi4b',
  'odroid-c4',
  'stm32mp157c-dk2',
  'intel-corei7-64',
  'colibri-imx6ull',
]
const CPU_BY_TYPE: Record<string, string> = {
  raspberrypi4: 'ARMv8 Processor rev 3 (v8l)',
  raspberrypi3: 'ARMv7 Processor rev 4 (v7l)',
  raspberrypi0w: 'ARMv6-compatible processor rev 7 (v6l)',
  'beaglebone-yocto': 'ARMv7 Processor rev 2 (v7l)',
  'qemux86-64': 'QEMU Virtual CPU version 2.5+',
  'imx8mm-evk': 'Cortex-A53',
  'jetson-nano': 'ARMv8 Processor rev 1 (v8l)',
  rockpi4b: 'Cortex-A72',
  'odroid-c4': 'Cortex-A55',
  'stm32mp157c-dk2': 'ARMv7 Processor rev 5 (v7l)',
  'intel-corei7-64': 'Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz',
  'colibri-imx6ull': 'ARMv7 Processor rev 5 (v7l)',
}
const MEMORY_KB = [493536, 949452, 1012428, 1917604, 3884096, 3963944, 7998312, 16262320]
const RELEASES = Array.from({ length: 30 }, (_, i) => `release-${1 + Math.floor(i / 6)}.${i % 6}.${i % 3}`)
const CLIENTS = ['3.4.0', '3.5.3', '4.0.6', '5.0.1', '5.0.3']
const KERNELS = Array.from(
  { length: 24 },
  (_, i) => `Linux version 5.${4 + (i % 12)}.${10 + i * 7} #1 SMP PREEMPT`,
)
const OSES = [
  'Debian GNU/Linux 12 (bookworm)',
  'Poky (Yocto Project Reference Distro) 4.0.15',
  'Ubuntu 22.04.4 LTS',
]
const COUNTRIES = ['NO', 'DE', 'US', 'FR', 'JP', 'BR', 'IN', 'GB', 'NL', 'SE']
const GROUPS = ['production', 'staging', 'canary', 'lab', 'field-eu', 'field-us', 'field-apac', 'retired']
const MODULES = ['deb', 'directory', 'docker', 'rootfs-image', 'rpm', 'script', 'single-file']

/** Mostly accepted, as in a running fleet. */
function status(): keyof typeof STATUS_CODES {
  const r = random()
  if (r < 0.9) return 'accepted'
  if (r < 0.95) return 'pending'
  if (r < 0.98) return 'rejected'
  return r < 0.99 ? 'preauthorized' : 'noauth'
}

const DAY = 86_400_000
const NOW = Date.parse('2025-06-01T12:00:00.000Z')

function device(i: number) {
  const mac = `02:${hex((i >>> 24) & 255, 2)}:${hex((i >>> 16) & 255, 2)}:${hex((i >>> 8) & 255, 2)}:${hex(i & 255, 2)}:${hex(int(256), 2)}`
  const type = pick(DEVICE_TYPES)
  const release = pick(RELEASES)
  const created = NOW - int(400) * DAY - int(DAY)
  const auth = status()
  const inventory: AttributeInput[] = [
    { name: 'device_type', value: type },
    { name: 'artifact_name', value: release },
    { name: 'rootfs-image.version', value: release },
    { name: 'mender_client_version', value: pick(CLIENTS) },
    { name: 'kernel', value: pick(KERNELS) },
    { name: 'hostname', value: `${type}-${i.toString(36).padStart(5, '0')}` },
    { name: 'mac_eth0', value: mac },
    { name: 'ipv4_eth0', value: `10.${int(256)}.${int(256)}.${1 + int(254)}/16` },
    { name: 'cpu_model', value: CPU_BY_TYPE[type]! },
    { name: 'mem_total_kB', value: pick(MEMORY_KB) },
    { name: 'network_interfaces', value: random() < 0.6 ? ['eth0', 'wlan0'] : ['eth0'] },
    { name: 'update_modules', value: MODULES.filter(() => random() < 0.5) },
    { name: 'os', value: pick(OSES) },
    { name: 'geo-country', value: pick(COUNTRIES) },
  ]
  const system: AttributeInput[] = [
    { name: 'created_ts', value: new Date(created).toISOString() },
    { name: 'updated_ts', value: new Date(created + int(NOW - created)).toISOString() },
  ]
  if (auth === 'accepted')
    system.push({ name: 'check_in_time', value: new Date(NOW - int(3 * DAY)).toISOString() })
  if (random() < 0.6) system.push({ name: 'group', value: pick(GROUPS) })
  return {
    id: uuid(),
    status: auth,
    identity: [
      { name: 'mac', value: mac },
      { name: 'status', value: auth },
    ],
    inventory,
    system,
  }
}

const config = loadConfig({ ...process.env, BENDER_DATA_DIR: args['data-dir'], BENDER_LOG_LEVEL: 'warn' })
const deps = await buildDeps(config)
const sqlite = sqliteOf(deps).$client
// A seed is rebuilt, not recovered: skip fsyncs and give the sorter and index builds room.
sqlite.run('PRAGMA synchronous = OFF')
sqlite.run('PRAGMA cache_size = -2000000')
const store = createInventoryRows(sqliteOf(deps))

const empty = (sqlite.query('SELECT count(*) AS n FROM inventory_attributes').get() as { n: number }).n === 0
const indexes = empty
  ? (sqlite
      .query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inventory_attributes'")
      .all() as { name: string; sql: string }[])
  : []
for (const index of indexes) sqlite.run(`DROP INDEX ${index.name}`)

const tenantId = ''
const lastSeq = (
  sqlite.query('SELECT coalesce(max(seq), 0) AS n FROM inventory_devices').get() as { n: number }
).n
const nameIds = new Map<string, number>()
const attrId = (scope: string, name: string) => {
  const key = `${scope}/${name}`
  let id = nameIds.get(key)
  if (id === undefined) {
    id = store.write(() => store.names.ensure(tenantId, scope, name).id)
    nameIds.set(key, id)
  }
  return id
}
const idAttr = attrId(DEVICE_ID.scope, DEVICE_ID.name)
const insertDevice = sqlite.prepare(
  'INSERT INTO inventory_devices (tenant_id, id, status) VALUES (?, ?, ?) RETURNING seq',
)
const auth = args.tokens ? deviceauthRows() : undefined
const insertRow = sqlite.prepare(
  'INSERT INTO inventory_attributes (tenant_id, device, attr, status, idx, value) VALUES (?, ?, ?, ?, ?, ?)',
)
// Check-in times have their own table (see the inventory's tables.ts).
const insertCheckIn = sqlite.prepare(
  'INSERT INTO inventory_check_ins (tenant_id, device, attr, status, value) VALUES (?, ?, ?, ?, ?)',
)
const checkInAttr = attrId('system', 'check_in_time')
const counts = new Map<string, number>()
const arrays = new Set<number>()

/** Devices whose auth sets carry real keys (the rest hold a placeholder key no request can match). */
const KEYED_DEVICES = 32

/** Deviceauth's rows for each seeded device (--tokens): device, auth set, and a token when accepted. */
function deviceauthRows() {
  const insertDevice = sqlite.prepare(
    `INSERT INTO deviceauth_devices (id, tenant_id, identity, identity_hash, status, created_ts, updated_ts)
     VALUES (?, '', ?, ?, ?, ?, ?)`,
  )
  const insertAuthSet = sqlite.prepare(
    `INSERT INTO deviceauth_auth_sets (id, tenant_id, device_id, pubkey, status, created_ts) VALUES (?, '', ?, ?, ?, ?)`,
  )
  const insertToken = sqlite.prepare(
    `INSERT INTO deviceauth_tokens (id, tenant_id, device_id, expires_ts, created_ts) VALUES (?, '', ?, ?, ?)`,
  )
  const keyed: { deviceId: string; identity: string; privateKey: string; pubkey: string }[] = []
  const expires = NOW + 10 * 365 * DAY
  return {
    insert(deviceId: string, mac: string, status: keyof typeof STATUS_CODES) {
      const identity = normaliseIdentity({ mac })
      insertDevice.run(deviceId, identity, identityHash(identity), status, NOW, NOW)
      if (status === 'noauth') return
      const authSetId = uuid()
      let pubkey = `placeholder-key-${authSetId}`
      if (status === 'accepted' && keyed.length < KEYED_DEVICES) {
        const pair = generateKeyPairSync('ed25519')
        pubkey = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string
        const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
        keyed.push({ deviceId, identity, privateKey, pubkey })
      }
      insertAuthSet.run(authSetId, deviceId, pubkey, status, NOW)
      if (status === 'accepted') insertToken.run(authSetId, deviceId, expires, NOW)
    },
    finish() {
      return Bun.write(join(config.dataDir, 'bench-device-keys.json'), JSON.stringify(keyed))
    },
  }
}

const BATCH = 10_000
const started = performance.now()
for (let start = 0; start < total; start += BATCH) {
  sqlite.transaction(() => {
    for (let i = start; i < Math.min(total, start + BATCH); i++) {
      const d = device(i)
      const code = STATUS_CODES[d.status]
      const { seq } = insertDevice.get(tenantId, d.id, code) as { seq: number }
      const write = (attr: number, value: AttributeInput['value']) => {
        const rows = toRows(value)
        if (attr === checkInAttr) insertCheckIn.run(tenantId, seq, attr, code, value as string)
        else for (const row of rows) insertRow.run(tenantId, seq, attr, code, row.idx, row.value)
        if (Array.isArray(value)) arrays.add(attr)
        const key = `${attr}/${code}`
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      write(idAttr, d.id)
      auth?.insert(d.id, d.identity[0]!.value, d.status)
      for (const a of d.identity) write(attrId('identity', a.name), a.value)
      for (const a of d.system) write(attrId('system', a.name), a.value)
      for (const a of d.inventory) write(attrId('inventory', a.name), a.value)
    }
  })()
  const done = Math.min(total, start + BATCH)
  if (done % 100_000 === 0 || done === total) {
    const seconds = (performance.now() - started) / 1000
    console.log(`${done} devices, ${Math.round(done / seconds)} devices/s`)
  }
}

sqlite.transaction(() => {
  const addCount = sqlite.prepare(
    `INSERT INTO inventory_attribute_counts (tenant_id, attr, status, devices) VALUES (?, ?, ?, ?)
     ON CONFLICT (tenant_id, attr, status) DO UPDATE SET devices = devices + excluded.devices`,
  )
  for (const [key, n] of counts) {
    const [attr, code] = key.split('/').map(Number)
    addCount.run(tenantId, attr!, code!, n)
  }
  for (const attr of arrays)
    sqlite.run('UPDATE inventory_attribute_names SET arrays = 1 WHERE id = ?', [attr])
})()
await auth?.finish()
const inserted = (performance.now() - started) / 1000
if (indexes.length > 0) {
  const indexStart = performance.now()
  for (const index of indexes) sqlite.run(index.sql)
  console.log(`indexes rebuilt in ${((performance.now() - indexStart) / 1000).toFixed(1)} s`)
}
const textStart = performance.now()
buildTexts(sqliteOf(deps), lastSeq)
console.log(`free-text index built in ${((performance.now() - textStart) / 1000).toFixed(1)} s`)
sqlite.run('PRAGMA wal_checkpoint(TRUNCATE)')
const seconds = (performance.now() - started) / 1000
console.log(
  `seeded ${total} devices into ${config.dataDir} in ${seconds.toFixed(1)} s: ${Math.round(total / seconds)} devices/s overall (${Math.round(total / inserted)} devices/s inserting)`,
)
sqlite.close()
