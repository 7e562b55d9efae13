// The event outbox on both drivers: events written with their write (and only then), the
// cursor order under concurrent transactions (PostgreSQL), plan and standalone events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import { readEvents, type EventDeclaration, type WrittenChange } from './outbox.js';
import { forEachDriver, horizonPassed } from './testing.js';
import { readChanges } from './changes.js';

const TYPE = { system: 'urn:test', code: 'changed' };

async function allEvents(repo: { db: Parameters<typeof readEvents>[0] }) {
  await horizonPassed(repo.db);
  return readEvents(repo.db, undefined, 1000);
}

await forEachDriver('Event outbox', (getRepo, driver) => {
  const seen: WrittenChange[] = [];
  const source = (changes: readonly WrittenChange[]): EventDeclaration[] => {
    seen.push(...changes);
    return changes
      .filter((c) => c.resourceType === 'Patient')
      .map((c) => ({ type: TYPE, patient: `Patient/${c.id}`, focus: `Patient/${c.id}/_history/${c.versionId}`, detail: { family: (c.resource?.name as { family: string }[] | undefined)?.[0]?.family ?? null, before: (c.previous?.name as { family: string }[] | undefined)?.[0]?.family ?? null } }));
  };

  test('an event source sees every change and its events are written with it', async () => {
    const repo = getRepo();
    repo.useEvents(source);
    const p = await repo.create({ resourceType: 'Patient', name: [{ family: 'Durand' }] });
    await repo.create({ resourceType: 'Organization', name: 'ESSMS' });
    await repo.update({ resourceType: 'Patient', id: p.id, name: [{ family: 'Dupont' }] });
    await repo.delete('Patient', p.id);
    const events = await allEvents(repo);
    assert.equal(events.length, 3);
    assert.deepEqual(events.map((e) => e.focus), [`Patient/${p.id}/_history/1`, `Patient/${p.id}/_history/2`, `Patient/${p.id}/_history/3`]);
    assert.deepEqual(events.map((e) => e.detail), [{ family: 'Durand', before: null }, { family: 'Dupont', before: 'Durand' }, { family: null, before: 'Dupont' }]);
    assert.equal(events[0]!.source, 'core');
    assert.equal(events[0]!.patient, `Patient/${p.id}`);
    assert.deepEqual(seen.map((c) => `${c.resourceType}:${c.outcome}:${c.method}`), ['Patient:created:create', 'Organization:created:create', 'Patient:updated:update', 'Patient:deleted:delete']);
    // An update that changes nothing writes nothing, and so declares nothing (the no-op rule).
    const o = await repo.create({ resourceType: 'Patient', name: [{ family: 'Martin' }] });
    await repo.update({ resourceType: 'Patient', id: o.id, name: [{ family: 'Martin' }] });
    assert.equal((await allEvents(repo)).length, 4);
  });

  test('a write that fails leaves no event; an event source that throws fails the write', async () => {
    const repo = getRepo();
    repo.useEvents(source);
    const before = (await allEvents(repo)).length;
    await assert.rejects(
      repo.execute({
        ops: [
          { method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient', name: [{ family: 'A' }] } },
          { method: 'create', resourceType: 'Patient', resource: { resourceType: 'Patient' }, check: () => { throw new FhirError(HTTP_ERRORS.NOT_A_RESOURCE); } },
        ],
      }),
      FhirError,
    );
    assert.equal((await allEvents(repo)).length, before);
    repo.useEvents(() => {
      throw new Error('source down');
    });
    await assert.rejects(repo.create({ resourceType: 'Patient', name: [{ family: 'B' }] }), /source down/);
    repo.useEvents(source);
    const r = await repo.search({ resourceType: 'Patient', params: [{ name: 'family', values: ['B'] }], count: 10, offset: 0 });
    assert.equal(r.matches.length, 0, 'no data without its event');
  });

  test('plan events and events without a write', async () => {
    const repo = getRepo();
    repo.useEvents(undefined);
    const before = await allEvents(repo);
    await repo.execute({
      ops: [{ method: 'create', resourceType: 'Organization', resource: { resourceType: 'Organization', name: 'X' } }],
      events: (results) => [{ type: { system: 'urn:test', code: 'org', display: 'Organisation créée' }, focus: `Organization/${results[0]!.id}`, source: 'test' }],
    });
    await repo.recordEvents([{ type: { system: 'urn:test', code: 'due' }, patient: 'Patient/p1', occurred: '2026-01-01T08:00:00.000Z', detail: { why: 'échéance' } }]);
    const after = (await allEvents(repo)).slice(before.length);
    assert.deepEqual(after.map((e) => [e.type.code, e.source]), [['org', 'test'], ['due', 'core']]);
    assert.equal(after[0]!.type.display, 'Organisation créée');
    assert.equal(after[1]!.occurred, '2026-01-01T08:00:00.000Z');
    assert.deepEqual(after[1]!.detail, { why: 'échéance' });
    assert.equal(after[1]!.patient, 'Patient/p1');
  });

  test('the cursor pages through every event once', async () => {
    const repo = getRepo();
    await repo.recordEvents(Array.from({ length: 25 }, (_, i) => ({ type: TYPE, detail: { i } })));
    const all = await allEvents(repo);
    const paged: string[] = [];
    let cursor: { tx: string; seq: number } | undefined;
    for (;;) {
      const page = await readEvents(repo.db, cursor, 7);
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.id));
      cursor = { tx: page.at(-1)!.tx, seq: page.at(-1)!.seq };
    }
    assert.deepEqual(paged, all.map((e) => e.id));
    assert.equal(new Set(paged).size, paged.length);
  });

  if (driver === 'postgres') {
    test('an event committed late is not skipped: the horizon holds back what follows a running transaction', async () => {
      const repo = getRepo();
      const start = await allEvents(repo);
      const cursor = start.length ? { tx: start.at(-1)!.tx, seq: start.at(-1)!.seq } : undefined;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let written!: () => void;
      const wrote = new Promise<void>((r) => (written = r));
      // A: takes its transaction id first, writes, and waits before committing.
      const a = repo.db.transaction(async (tx) => {
        await tx.query('SELECT pg_current_xact_id()');
        await tx.query(`INSERT INTO event_outbox (id, recorded, occurred, system, code, source) VALUES ('late-a', now(), now(), 'urn:test', 'a', 'test')`);
        written();
        await gate;
      });
      await wrote;
      // B: a later transaction, committed first.
      await repo.recordEvents([{ type: { system: 'urn:test', code: 'b' } }]);
      const early = await readEvents(repo.db, cursor, 100);
      assert.deepEqual(early.map((e) => e.type.code), [], 'B waits behind the running A');
      release();
      await a;
      await horizonPassed(repo.db);
      const later = await readEvents(repo.db, cursor, 100);
      assert.deepEqual(later.map((e) => e.type.code), ['a', 'b']);
    });

    test('the change feed holds back what follows a running transaction the same way', async () => {
      const repo = getRepo();
      await horizonPassed(repo.db);
      const start = await readChanges(repo.db, undefined, 1000);
      const cursor = start.length ? { tx: start.at(-1)!.tx, seq: start.at(-1)!.seq } : undefined;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let written!: () => void;
      const wrote = new Promise<void>((r) => (written = r));
      const a = repo.db.transaction(async (tx) => {
        // A row of the old table, as a server of the previous version writes it during a rolling
        // upgrade (migration 0202 keeps it readable); change-feed.test does the same with a write's row.
        await tx.query(`INSERT INTO change_feed (resource_type, id, version_id, last_updated, deleted) VALUES ('Basic', 'late', 1, now(), false)`);
        written();
        await gate;
      });
      await wrote;
      const b = await repo.create({ resourceType: 'Basic', code: { text: 'b' } });
      assert.deepEqual((await readChanges(repo.db, cursor, 100)).map((c) => c.id), [], 'the later write waits behind the running one');
      release();
      await a;
      await horizonPassed(repo.db);
      assert.deepEqual((await readChanges(repo.db, cursor, 100)).map((c) => c.id), ['late', b.id]);
    });
  }
});
