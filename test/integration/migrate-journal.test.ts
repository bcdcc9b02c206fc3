import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { migrateFleet } from '../../src/core/migrate.js'
import { createTenant } from '../../src/core/tenants.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'

/** Issue 9 item 3, for tenant migrate: a journal or version write that fails is reported, never dropped. */
describe('tenant migrate: journal and recorded versions', () => {
  let db: TestDatabase
  let janua: Janua
  const templates = copyTemplates()
  const open = () => Janua.open({ databaseUrl: db.url, templates: templates.dir })
  const recorded = async (slug: string) =>
    Number((await db.query(`select p.version from janua.placements p join janua.tenants t on t.placement_id = p.id where t.slug = $1`, [slug])).rows[0].version)

  beforeAll(async () => {
    db = await freshDatabase('migjournal')
    janua = await open()
    await initDb(janua)
    for (const slug of ['j1', 'j2']) await createTenant(janua, { slug, isolation: 'schema' })
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
    templates.remove()
  })

  it('a failed version record is reported (exit 1 with a warning), and the next run records the versions', async () => {
    templates.add('0005_phone.sql', 'alter table users add column phone text;\n')
    // janua.placements refuses the version update: the placements are migrated all the same.
    await db.query(`create or replace function public.janua_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`)
    await db.query(`create trigger janua_test_refuse before update of version on janua.placements for each row execute function public.janua_test_refuse()`)
    try {
      const r = await runCli(['tenant', 'migrate', '--json'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir } })
      expect(r.code, r.stderr).toBe(1)
      expect(r.json.summary.migrated).toBe(3)
      expect(r.json.summary.failed).toBe(0)
      expect(r.json.journalErrors).toHaveLength(1)
      expect(r.json.journalErrors[0]).toMatch(/recording the versions of 3 placement\(s\) in janua\.placements failed: .*refused by the test/)
      expect(r.stderr).toMatch(/warning .*refused by the test; run `janua tenant migrate` again to record the versions/)
      expect(await recorded('j1')).toBe(4)
    } finally {
      await db.query(`drop trigger janua_test_refuse on janua.placements`)
      await db.query(`drop function public.janua_test_refuse()`)
    }
    await janua.close()
    janua = await open() // the template set is read once per Janua: this one knows 0005
    const again = await migrateFleet(janua, {})
    expect(again.summary.upToDate).toBe(3)
    expect(again.journalErrors).toEqual([])
    expect(await recorded('j1')).toBe(5)
    expect(await recorded('j2')).toBe(5)
  })
})
