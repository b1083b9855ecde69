const t0 = performance.now()
const lap = (n: string) => console.log(n, (performance.now() - t0).toFixed(0))
const { createApp, createServices } = await import('./src/app.ts')
const { loadConfig } = await import('./src/config.ts')
const { buildDeps } = await import('./src/deps.ts')
const { startServer } = await import('./src/server.ts')
lap('imports')
const deps = await buildDeps(
  loadConfig({
    BENDER_DATA_DIR: process.argv[2]!,
    BENDER_API_PORT: '18431',
    BENDER_STORAGE_PORT: '18432',
    BENDER_LOG_LEVEL: 'error',
  }),
)
lap('deps')
const services = createServices(deps)
lap('services')
await services.artifacts.startUp()
lap('startUp')
const app = createApp(deps, services)
lap('app')
const r = await startServer(deps, app)
lap('listening')
await fetch('http://127.0.0.1:18431/api/internal/v1/useradm/alive')
lap('first answer')
process.exit(0)
