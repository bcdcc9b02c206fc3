import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ArchiveWriter, BlockGzipWriter, FORMAT_VERSION, readArchive, type ArchiveManifest } from '../../src/core/archive/format.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-archive-format-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const manifest = (tables: string[]): ArchiveManifest => ({
  format: FORMAT_VERSION,
  createdAt: '2026-12-01T00:00:00.000Z',
  serverVersionNum: 150000,
  tenant: { id: '00000000-0000-4000-8000-000000000000', slug: 'acme', name: 'Acme', isolation: 'schema', commercialStatus: 'active', plan: null, limits: {}, domain: null },
  templateVersion: 1,
  templates: [],
  tables: tables.map((name) => ({ name, columns: ['id'], checksumColumns: ['id'], rows: 0, checksum: '', sha256: '', bytes: 0 })),
  sequences: [],
})

/** Writes table sections of the given chunks through the block gzip writer; returns the file. */
async function write(file: string, tables: { name: string; chunks: Buffer[] }[], parallel?: number) {
  const out = fs.createWriteStream(file)
  const gzip = new BlockGzipWriter(out, 6, parallel)
  const writer = new ArchiveWriter(gzip)
  await writer.start()
  const digests = []
  for (const t of tables) {
    digests.push(
      await writer.table(
        t.name,
        (async function* () {
          yield* t.chunks
        })(),
      ),
    )
  }
  await writer.finish(manifest(tables.map((t) => t.name)))
  await gzip.end()
  return digests
}

async function read(file: string) {
  const tables: { name: string; bytes: Buffer; digest: { sha256: string; bytes: number } }[] = []
  let found: ArchiveManifest | undefined
  for await (const section of readArchive(file)) {
    if ('manifest' in section) found = section.manifest
    else {
      const parts: Buffer[] = []
      for await (const chunk of section.chunks) parts.push(chunk)
      tables.push({ name: section.name, bytes: Buffer.concat(parts), digest: section.digest() })
    }
  }
  return { tables, manifest: found }
}

/** Compressible but not trivial bytes, like COPY data: repeated words with random digits. */
const copyLike = (n: number) => {
  const words = ['tenant', 'user', 'session', '2026-12-01', 'example.com', 'Mozilla/5.0']
  let s = ''
  while (s.length < n) s += `${words[s.length % words.length]}${Math.floor(Math.random() * 1e6)}\t`
  return Buffer.from(s.slice(0, n))
}

// Megabytes through gzip on worker threads: seconds of CPU, more than the 5 s default when the
// unit files share the machine with the database suites (they timed out so in a run on 2 cores).
describe('the tenant archive container with gzip members compressed in parallel', { timeout: 60_000 }, () => {
  it('round-trips sections spread over many gzip members, and gunzip reads the file as one', async () => {
    const file = path.join(dir, 'many.janua.gz')
    const big = copyLike(3_500_000)
    const tables = [
      { name: 'audit_logs', chunks: [big.subarray(0, 65536), big.subarray(65536, 2_000_000), big.subarray(2_000_000)] },
      { name: 'empty', chunks: [] },
      { name: 'users', chunks: [copyLike(1000)] },
    ]
    const digests = await write(file, tables)
    const { tables: back, manifest: m } = await read(file)
    expect(m?.tables.map((t) => t.name)).toEqual(['audit_logs', 'empty', 'users'])
    expect(back.map((t) => t.name)).toEqual(['audit_logs', 'empty', 'users'])
    for (const [i, t] of tables.entries()) {
      expect(back[i]!.bytes.equals(Buffer.concat(t.chunks))).toBe(true)
      expect(back[i]!.digest).toEqual(digests[i])
      expect(digests[i]!.sha256).toBe(createHash('sha256').update(Buffer.concat(t.chunks)).digest('hex'))
    }
    // more than one member, and the system's gunzip agrees with Node's
    const raw = fs.readFileSync(file)
    let members = 0
    for (let i = 0; i + 2 < raw.length; i++) if (raw[i] === 0x1f && raw[i + 1] === 0x8b && raw[i + 2] === 0x08) members++
    expect(members).toBeGreaterThan(3)
    expect(execFileSync('gunzip', ['-c', file], { maxBuffer: 64 << 20 }).length).toBeGreaterThan(big.length)
  })

  it('any split of the input into chunks, any parallelism: the same bytes come back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 0, maxLength: 12 }), fc.integer({ min: 1, max: 4 }), async (sizes, parallel) => {
        const file = path.join(dir, `prop-${randomBytes(4).toString('hex')}.janua.gz`)
        const chunks = sizes.map((n) => randomBytes(n))
        await write(file, [{ name: 't', chunks }], parallel)
        const { tables } = await read(file)
        expect(tables[0]!.bytes.equals(Buffer.concat(chunks))).toBe(true)
        fs.rmSync(file)
      }),
      { numRuns: 15 },
    )
  })

  it('one byte changed in a later member: the archive is refused as damaged', async () => {
    const file = path.join(dir, 'tampered.janua.gz')
    await write(file, [{ name: 'audit_logs', chunks: [copyLike(3_000_000)] }])
    const raw = fs.readFileSync(file)
    raw[Math.floor(raw.length * 0.7)]! ^= 0x01
    fs.writeFileSync(file, raw)
    await expect(read(file)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/damaged or was altered/) })
  })
})
