import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'

let db: TestDatabase
let folderA: ReturnType<typeof copyTemplates>
let project: string
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, ...extra })

beforeAll(async () => {
  db = await freshDatabase('e2e')
  folderA = copyTemplates()
  folderA.add('0005_notes.sql', 'create table notes (id bigint generated always as identity primary key, tenant_id uuid not null, body text);\n')
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-project-'))
  fs.mkdirSync(path.join(project, '.git'))
  fs.mkdirSync(path.join(project, 'deep', 'er'), { recursive: true })
})

afterAll(async () => {
  folderA?.remove()
  fs.rmSync(project, { recursive: true, force: true })
  await db?.drop()
})

describe('a templates folder that does not match the fleet', () => {
  it('after a migrate with --templates A, every command using templates with the default folder exits 2 naming the folder and its source', async () => {
    expect((await runCli(['db', 'init', '--templates', folderA.dir], { env: env() })).code).toBe(0)
    const created = await runCli(['tenant', 'create', 'wf-one', '--isolation', 'schema', '--templates', folderA.dir, '--json'], { env: env() })
    expect(created.code, created.stderr).toBe(0)
    expect(created.json.version).toBe(5)
    for (const args of [
      ['db', 'status'],
      ['db', 'verify'],
      ['db', 'init'],
      ['tenant', 'create', 'wf-two'],
      ['tenant', 'migrate'],
      ['tenant', 'inspect', 'wf-one'],
    ]) {
      const r = await runCli(args, { env: env() })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain(path.join(process.cwd(), 'templates'))
      expect(r.stderr).toContain('(from default)')
      expect(r.stderr).toContain('0005_notes.sql')
      expect(r.stderr.trim().split('\n')).toHaveLength(2)
    }
    const viaEnv = await runCli(['db', 'status', '--json'], { env: env({ JANUA_TEMPLATES: path.join(process.cwd(), 'templates') }) })
    expect(viaEnv.code).toBe(2)
    expect(viaEnv.json.error).toMatchObject({ code: 'templates_mismatch', templatesSource: 'JANUA_TEMPLATES', newestApplied: '0005_notes.sql' })
    // Nothing was created by the refused create.
    const list = await runCli(['tenant', 'list', '--json'], { env: env() })
    expect(list.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['wf-one'])
  })

  it('db status prints the templates path and its source', async () => {
    const r = await runCli(['db', 'status'], { env: env({ JANUA_TEMPLATES: folderA.dir }) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`templates: ${folderA.dir} (from JANUA_TEMPLATES)`)
    const j = await runCli(['db', 'status', '--json', '--templates', folderA.dir], { env: env() })
    expect(j.json.templates).toMatchObject({ dir: folderA.dir, source: '--templates' })
  })

  it('a config file with an unknown key exits 2 naming the key and the close one', async () => {
    fs.writeFileSync(path.join(project, 'janua.config.json'), JSON.stringify({ template: './tpl' }))
    const r = await runCli(['tenant', 'list'], { env: env(), cwd: path.join(project, 'deep') })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('unknown key "template"')
    expect(r.stderr).toContain('did you mean "templates"')
  })
})

describe('settings are found from a subfolder', () => {
  it('janua.config.json is read from the project root; its templates path is relative to the file; janua config shows each source', async () => {
    fs.writeFileSync(path.join(project, 'janua.config.json'), JSON.stringify({ databaseUrl: db.url, templates: path.relative(project, folderA.dir) }))
    const cwd = path.join(project, 'deep', 'er')
    const r = await runCli(['tenant', 'list', '--json'], { env: env({ DATABASE_URL: undefined }), cwd })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['wf-one'])
    const s = await runCli(['db', 'status', '--json'], { env: env({ DATABASE_URL: undefined }), cwd })
    expect(s.code, s.stderr).toBe(0)
    expect(s.json.templates).toMatchObject({ dir: folderA.dir, source: path.join(project, 'janua.config.json') })
    const c = await runCli(['config', '--json'], { env: env({ DATABASE_URL: undefined }), cwd })
    expect(c.code, c.stderr).toBe(0)
    expect(c.json.configFile).toBe(path.join(project, 'janua.config.json'))
    const byName = Object.fromEntries(c.json.settings.map((x: { name: string }) => [x.name, x]))
    expect(byName.databaseUrl.source).toBe(path.join(project, 'janua.config.json'))
    expect(byName.templates).toMatchObject({ value: folderA.dir, source: path.join(project, 'janua.config.json') })
    expect(byName.embeddedDir.value).toBe(path.join(project, '.janua'))
    const human = await runCli(['config'], { env: env({ DATABASE_URL: undefined }), cwd })
    expect(human.stdout).toMatch(/templates\s+\S+\s+\(from .*janua\.config\.json\)/)
  })

  it('the search stops at the repository root', async () => {
    const inner = path.join(project, 'deep', 'er')
    fs.mkdirSync(path.join(project, 'deep', '.git'))
    try {
      const c = await runCli(['config', '--json'], { env: env(), cwd: inner })
      expect(c.json.configFile).toBeNull()
    } finally {
      fs.rmSync(path.join(project, 'deep', '.git'), { recursive: true })
    }
  })

  it('a connection error names where the URL came from', async () => {
    fs.writeFileSync(path.join(project, 'janua.config.json'), JSON.stringify({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }))
    const r = await runCli(['tenant', 'list'], { env: env({ DATABASE_URL: undefined }), cwd: path.join(project, 'deep') })
    expect(r.code).toBe(5)
    expect(r.stderr).toContain(`from ${path.join(project, 'janua.config.json')}`)
  })
})

describe('mistakes get one line and a suggestion', () => {
  it('tenant creat foo suggests tenant create, in human and --json form', async () => {
    const r = await runCli(['tenant', 'creat', 'foo'], { env: env() })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error unknown command `janua tenant creat foo`\nhint {2}did you mean `janua tenant create foo`\?/)
    const j = await runCli(['tenant', 'creat', 'foo', '--json'], { env: env() })
    expect(j.code).toBe(2)
    expect(j.json).toMatchObject({ schemaVersion: 1, ok: false, error: { code: 'command_not_found', suggestion: 'tenant create', exitCode: 2 } })
  })

  it('a misplaced argument is named', async () => {
    const r = await runCli(['tenant', 'list', 'acme'], { env: env() })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('`janua tenant list` takes no argument "acme"')
  })

  it('a missing argument is named, and the whole parser message is in the JSON envelope', async () => {
    const r = await runCli(['tenant', 'drop', '--yes'], { env: env() })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Missing 1 required arg: slug/)
    const j = await runCli(['tenant', 'drop', '--yes', '--json'], { env: env() })
    expect(j.code).toBe(2)
    expect(j.json.error.parseError).toMatch(/Missing 1 required arg:\nslug/)
  })

  it('no tenant x has the code not_found', async () => {
    const j = await runCli(['tenant', 'inspect', 'nobody-here', '--json', '--templates', folderA.dir], { env: env() })
    expect(j.code).toBe(2)
    expect(j.json.error.code).toBe('not_found')
  })

  it('an alias is listed as an alias, and still runs', async () => {
    const help = await runCli(['tenant', '--help'], { env: env() })
    expect(help.stdout).not.toMatch(/^\s+tenant move\s/m)
    expect(help.stdout).toContain('Alias: tenant move')
    const moveHelp = await runCli(['tenant', 'move', '--help'], { env: env() })
    expect(moveHelp.code).toBe(0)
    expect(moveHelp.stdout).toContain('--to')
  })

  it('completion scripts for fish and bash need no npm link (static, keyed on the name janua)', async () => {
    const fish = await runCli(['completion', 'fish'], { env: env() })
    expect(fish.code).toBe(0)
    expect(fish.stdout).toContain("complete -c janua -n '__fish_use_subcommand' -a '")
    expect(fish.stdout).toMatch(/-a 'create'/)
    const bash = await runCli(['completion', 'bash'], { env: env() })
    expect(bash.stdout).toContain('complete -F _janua_complete janua')
  })

  it('--format with --json is a usage error', async () => {
    const j = await runCli(['db', 'verify', '--format', 'github', '--json'], { env: env() })
    expect(j.code).toBe(2)
    expect(j.json.error.message).toContain('--format and --json')
  })
})
