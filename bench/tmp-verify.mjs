import { Janua } from '../dist/core/context.js'
import { verifyFleet } from '../dist/core/verify.js'
for (let i = 0; i < Number(process.argv[2] ?? 3); i++) {
  const t0 = performance.now()
  const janua = await Janua.open({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/janua_prof', templates: '/tmp/prof/ws/templates', cwd: '/tmp/prof/ws' })
  const r = await verifyFleet(janua, process.argv[3] ? { tenants: [process.argv[3]] } : {})
  await janua.close()
  console.log((performance.now() - t0).toFixed(0), 'ms ok', r.ok, r.summary.findings, JSON.stringify(r.summary.phases))
}
