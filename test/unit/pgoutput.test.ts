import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodePgoutput, PgoutputDecoder } from '../../src/core/move/logical.js'

/** pgoutput protocol 1 messages, built byte by byte as the server sends them. */
const int8 = (n: number) => Buffer.from([n])
const int16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
const text = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), int8(0)])
const tag = (t: string) => Buffer.from(t, 'ascii')

const begin = (xid: number) => Buffer.concat([tag('B'), Buffer.alloc(8), Buffer.alloc(8), int32(xid)])
const commit = () => Buffer.concat([tag('C'), int8(0), Buffer.alloc(24)])
const relation = (relid: number, schema: string, name: string, columns: string[]) =>
  Buffer.concat([
    tag('R'),
    int32(relid),
    text(schema),
    text(name),
    int8(100),
    int16(columns.length),
    ...columns.map((c) => Buffer.concat([int8(0), text(c), int32(25), int32(0xffffffff)])),
  ])
const insert = (relid: number, values: string[]) =>
  Buffer.concat([tag('I'), int32(relid), tag('N'), int16(values.length), ...values.map((v) => Buffer.concat([tag('t'), int32(Buffer.byteLength(v)), Buffer.from(v)]))])
const truncate = (relids: number[]) => Buffer.concat([tag('T'), int32(relids.length), int8(0), ...relids.map(int32)])

describe('decodePgoutput', () => {
  const keyOf = (table: string) => (table === 'events' || table === 'users' ? ['id'] : undefined)

  it('an insert gives its key; a TRUNCATE names the tables of the schema it emptied', () => {
    const messages = [
      { lsn: '0/1', data: begin(700) },
      { lsn: '0/2', data: relation(1, 'tenant_a', 'events', ['id', 'name']) },
      { lsn: '0/3', data: relation(2, 'tenant_a', 'users', ['id']) },
      { lsn: '0/4', data: relation(3, 'other', 'events', ['id']) },
      { lsn: '0/5', data: insert(1, ['42', 'x']) },
      { lsn: '0/6', data: truncate([1, 2, 3]) },
      { lsn: '0/7', data: commit() },
    ]
    const [tx, ...more] = decodePgoutput(messages, keyOf, 'tenant_a')
    expect(more).toEqual([])
    expect(tx).toMatchObject({ xid: 700, commitLsn: '0/7', keys: [{ table: 'events', key: { id: '42' } }], truncated: ['events', 'users'], markers: [] })
  })

  it('a transaction without a TRUNCATE has none', () => {
    const [tx] = decodePgoutput(
      [
        { lsn: '0/1', data: begin(9) },
        { lsn: '0/2', data: relation(1, 's', 'users', ['id']) },
        { lsn: '0/3', data: insert(1, ['1']) },
        { lsn: '0/4', data: commit() },
      ],
      keyOf,
      's',
    )
    expect(tx!.truncated).toEqual([])
  })

  it('fed in batches cut anywhere (a relation or a transaction split between fetches), it decodes what one run does', () => {
    const messages = [
      { lsn: '0/1', data: begin(1) },
      { lsn: '0/2', data: relation(1, 's', 'users', ['id', 'name']) },
      { lsn: '0/3', data: insert(1, ['1', 'a']) },
      { lsn: '0/4', data: commit() },
      { lsn: '0/5', data: begin(2) },
      { lsn: '0/6', data: insert(1, ['2', 'b']) },
      { lsn: '0/7', data: insert(1, ['3', 'c']) },
      { lsn: '0/8', data: commit() },
      { lsn: '0/9', data: begin(3) },
      { lsn: '0/a', data: truncate([1]) },
      { lsn: '0/b', data: commit() },
    ]
    const whole = decodePgoutput(messages, keyOf, 's')
    expect(whole.map((t) => t.xid)).toEqual([1, 2, 3])
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: messages.length - 1 }), { maxLength: 5 }), (cuts) => {
        const bounds = [0, ...cuts.sort((a, b) => a - b), messages.length]
        const decoder = new PgoutputDecoder(keyOf, 's')
        const got = bounds.slice(1).flatMap((end, i) => decoder.push(messages.slice(bounds[i], end)))
        expect(got).toEqual(whole)
      }),
    )
  })
})
