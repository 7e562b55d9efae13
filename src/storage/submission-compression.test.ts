// Migration 0182 (D-292): the submission log's JSON columns are compressed with lz4 where the
// server supports it (PostgreSQL built with lz4), and left at the default where it does not
// (PGlite): on both, the migration applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver } from './testing.js';

await forEachDriver('Submission log compression', (getRepo) => {
  test('bundle, report and response use lz4 when the server has it', async () => {
    const db = getRepo().db;
    const lz4 = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`)).rows[0]!.n === 1;
    const cols = (await db.query<{ attname: string; attcompression: string }>(
      `SELECT attname, attcompression::text AS attcompression FROM pg_attribute WHERE attrelid = 'submission'::regclass AND attname IN ('bundle', 'report', 'response') ORDER BY attname`,
    )).rows;
    assert.deepEqual(cols.map((c) => `${c.attname}:${c.attcompression}`), ['bundle', 'report', 'response'].map((c) => `${c}:${lz4 ? 'l' : ''}`));
  });
});
