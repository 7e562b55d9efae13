// TextArray parameters (D-332): sent in PostgreSQL's binary array format, they reach the server as
// the very values — what the literal (arrayLiteral, pg's escaping) made of them before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase, postgresUnavailable } from '../testing.js';
import { TextArray } from '../types.js';
import { binaryArray, LARGE_ARRAY, openPostgres, prepareLarge } from './postgres.js';

const ODD = ['a"b', 'c\\d', '\\"', '"\\', '{x,y}', 'é€😀', '', 'NULL', 'null', ' sp ', '\n\t', "it's", '[1,2]', 'a,b', '\u00a0'];
const JSONS = [JSON.stringify({ a: 'q"\\z', b: [1, null], 'é': '😀' }), '{}', '[]', '"s"', '3', 'null', JSON.stringify({ text: 'ligne\nsuivante', u: '\u2028' })];

test('binaryArray: the header PostgreSQL reads (one dimension, NULL flag, element type, length, lower bound 1); an empty array has no dimension', () => {
  const b = binaryArray(new TextArray(['ab', null]));
  assert.deepEqual([b.readInt32BE(0), b.readInt32BE(4), b.readUInt32BE(8), b.readInt32BE(12), b.readInt32BE(16)], [1, 1, 25, 2, 1]);
  assert.deepEqual([b.readInt32BE(20), b.subarray(24, 26).toString(), b.readInt32BE(26)], [2, 'ab', -1]);
  const j = binaryArray(new TextArray(['{}'], 'jsonb'));
  assert.deepEqual([j.readUInt32BE(8), j.readInt32BE(20), j[24], j.subarray(25).toString()], [3802, 3, 1, '{}']);
  assert.deepEqual([...binaryArray(new TextArray([]))], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
});

test('PostgreSQL: a TextArray arrives as the same values as the plain array sent as a literal (text and jsonb, NULLs, empty, large)', async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const db = await openPostgres({ url, max: 1 });
  try {
    const same = async (values: (string | null)[], type: 'text' | 'jsonb') => {
      // Compared in SQL, element by element, with the literal path (a plain array, as before).
      const r = await db.query<{ same: boolean; n: number; text: string[] | null }>(
        `SELECT $1::${type}[] IS NOT DISTINCT FROM $2::${type}[] AS same, cardinality($1::${type}[]) AS n, $1::${type}[]::text[] AS text`,
        [new TextArray(values, type), values],
      );
      assert.equal(r.rows[0]!.same, true, JSON.stringify(values).slice(0, 200));
      assert.equal(r.rows[0]!.n, values.length);
      return r.rows[0]!.text;
    };
    assert.deepEqual(await same(ODD, 'text'), ODD);
    assert.deepEqual(await same(['x', null, '', null], 'text'), ['x', null, '', null]);
    assert.deepEqual(await same([], 'text'), []);
    await same(JSONS, 'jsonb');
    await same([JSONS[0]!, null], 'jsonb');
    await same([], 'jsonb');
    // A large one goes through prepareLarge (its binary form built a slice at a time).
    const long = Array.from({ length: LARGE_ARRAY * 2 + 3 }, (_, i) => (i % 31 === 0 ? null : `${ODD[i % ODD.length]}${i}`));
    const prepared = (await prepareLarge([new TextArray(long)]))!;
    assert.ok(Buffer.isBuffer(prepared[0]) && (prepared[0] as Buffer).equals(binaryArray(new TextArray(long))), 'sliced: the same bytes');
    assert.deepEqual(await same(long, 'text'), long);
    // A bad JSON text is refused as in a literal.
    await assert.rejects(db.query(`SELECT $1::jsonb[]`, [new TextArray(['{"a":'], 'jsonb')]), /json/i);
  } finally {
    await db.close();
    await drop();
  }
});
