// Upgrading a database that already holds many usagers: the backfills of migrations 0161
// (Pilotage counts, usagers list) and 0180 (projet personnalisé validation dates) run inside the
// one migration transaction. At run time a write takes one advisory lock per usager it touches;
// a backfill that did the same would take one per stored usager in one transaction and exhaust
// PostgreSQL's lock table (max_locks_per_transaction × max_connections, 6,400 by default):
// "out of shared memory", and the server could not start on its own data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from './index.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { createTestDatabase, postgresUnavailable } from './testing.js';
import type { Database } from './types.js';

const N = 20_000;
const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';

async function upgradeWithUsagers(db: Database): Promise<void> {
  const before = MIGRATIONS.filter((m) => m.version < '0161');
  assert.ok(before.length > 0 && before.length < MIGRATIONS.length);
  await migrate(db, before);
  // N usagers, each with one séjour (Encounter → subject), as an existing server holds them.
  await db.query(
    `INSERT INTO resource (resource_type, id, version_id, last_updated, content)
     SELECT 'Patient', 'p' || g, 1, now(), jsonb_build_object('resourceType', 'Patient', 'id', 'p' || g,
            'identifier', jsonb_build_array(jsonb_build_object('system', $1::text, 'value', '3480787529/' || g)),
            'name', jsonb_build_array(jsonb_build_object('family', 'Nom' || g)))
       FROM generate_series(1, ${N}) g`,
    [SYS_LOCAL],
  );
  await db.query(
    `INSERT INTO search_token (resource_type, id, param, system, code)
     SELECT 'Patient', 'p' || g, 'identifier', $1::text, '3480787529/' || g FROM generate_series(1, ${N}) g`,
    [SYS_LOCAL],
  );
  await db.query(
    `INSERT INTO resource (resource_type, id, version_id, last_updated, content)
     SELECT 'Encounter', 'e' || g, 1, now(), jsonb_build_object('resourceType', 'Encounter', 'id', 'e' || g,
            'subject', jsonb_build_object('reference', 'Patient/p' || g))
       FROM generate_series(1, ${N}) g`,
  );
  await db.query(
    `INSERT INTO search_reference (resource_type, id, param, target_type, target_id)
     SELECT 'Encounter', 'e' || g, 'subject', 'Patient', 'p' || g FROM generate_series(1, ${N}) g`,
  );
  await migrate(db);
  const sorted = await db.query<{ n: string }>('SELECT count(*) AS n FROM usager_sort');
  assert.equal(Number(sorted.rows[0]!.n), N, 'every stored usager is in the usagers list');
  const counted = await db.query<{ n: string }>(`SELECT coalesce(sum(n), 0) AS n FROM pilotage_count WHERE kind = 'usagers'`);
  assert.equal(Number(counted.rows[0]!.n), N, 'every stored usager is counted by Pilotage');
}

test(`migrations 0161/0180 upgrade a PostgreSQL database holding ${N} usagers (no lock per usager in the backfill)`, async (t) => {
  const why = await postgresUnavailable();
  if (why) return t.skip(why);
  const { url, drop } = await createTestDatabase();
  const db = await openDatabase({ url });
  try {
    await upgradeWithUsagers(db);
  } finally {
    await db.close();
    await drop();
  }
});

test(`migrations 0161/0180 upgrade an embedded database holding ${N} usagers`, async () => {
  const db = await openDatabase({ dataDir: 'memory://' });
  try {
    await upgradeWithUsagers(db);
  } finally {
    await db.close();
  }
});
