#!/usr/bin/env bun
/**
 * The cost of metrics on the device poll: bench-deployments.ts's idle poll phase with --metrics, at
 * a size that seeds in seconds. Two benders run on one data dir, one with BENDER_METRICS_TOKEN; each
 * round polls both back to back (alternating which goes first) after a bare hello pass; reported is
 * the median of the rounds' with ÷ without ratios.
 *
 *   bun scripts/bench-metrics.ts [--devices 20000] [--pollers 10000] [--seconds 3] [--rounds 9]
 *        [any other option of bench-deployments.ts]
 */
import { join } from 'node:path'

const DEFAULTS = { devices: '20000', pollers: '10000', rollout: '0', seconds: '3', rounds: '9' }
const given = Bun.argv.slice(2)
const defaults = Object.entries(DEFAULTS).flatMap(([name, value]) =>
  given.includes(`--${name}`) ? [] : [`--${name}`, value],
)
const proc = Bun.spawn(
  [process.execPath, join(import.meta.dir, 'bench-deployments.ts'), '--metrics', ...defaults, ...given],
  { stdio: ['inherit', 'inherit', 'inherit'] },
)
process.exit(await proc.exited)
