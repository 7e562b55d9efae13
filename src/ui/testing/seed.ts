// Test and benchmark data for the UI: the official example Bundles and generated usagers go
// through the real ingest pipeline; for volume (10,000 usagers), stored usagers (SSIAD ones, and
// optionally usagers with a projet personnalisé) are cloned with fresh ids and identifiers
// through the storage's batched write path; the derived tables can be checked against their
// full recomputation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ingestTransaction, type IngestResult } from '../../ingest/index.js';
import { generateUsagers } from '../../producer/generate/index.js';
import { buildBundle } from '../../producer/build/index.js';
import { newId } from '../../storage/repository.js';
import { writeVersions, type VersionToWrite } from '../../storage/writer.js';
import type { FhirResource, Queryable, Repository } from '../../storage/types.js';
import type { TdduiValidator } from '../../tddui/validator.js';
import { EXAMPLES_DIR } from '../../testing/paths.js';
import { dueReviewCounts, dueReviews, recomputeDueReviews } from '../../coordination/ppa-reviews.js';
import { activityByWeek, evaluationsByOrganisation, girByOrganisation, pilotageFigures, readAggregates, usagersByOrganisation, type PilotageFigures } from '../../storage/indicators.js';

export interface SeedContext {
  repo: Repository;
  validator: TdduiValidator;
}

export function readExample(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, name), 'utf8')) as Record<string, unknown>;
}

export interface OfficialSeed {
  ssiad: IngestResult;
  pa: IngestResult;
  /** A rejected submission: the SSIAD example with an unknown element and a séjour without subject. */
  rejected: IngestResult;
}

/** The unknown property put into the rejected Bundle (markup, to check escaping). */
export const REJECTED_MARKER = '<script>alert("tddui")</script>';

export async function seedOfficial(ctx: SeedContext): Promise<OfficialSeed> {
  const ssiad = await ingestTransaction(ctx, readExample('Bundle-tddui-bundle-example.json'));
  const pa = await ingestTransaction(ctx, readExample('Bundle-tddui-pp-pa-bundle-example.json'));
  const bad = readExample('Bundle-tddui-bundle-example.json') as { entry: { resource: Record<string, unknown> }[] };
  bad.entry[0].resource.surnom = REJECTED_MARKER;
  delete bad.entry[2].resource.subject;
  const rejected = await ingestTransaction(ctx, bad);
  return { ssiad, pa, rejected };
}

/** Generated usagers (producer generator → Bundle builder → ingest). Returns the statuses. */
export async function seedGenerated(ctx: SeedContext, count: number, seed: string | number): Promise<number[]> {
  const statuses: number[] = [];
  for (const pivot of generateUsagers({ count, seed })) {
    const { bundle } = buildBundle(pivot, { clipWindow: true });
    statuses.push((await ingestTransaction(ctx, bundle)).status);
  }
  return statuses;
}

const NOMS = ['Martin', 'Bernard', 'Thomas', 'Petit', 'Robert', 'Richard', 'Durand', 'Dubois', 'Moreau', 'Laurent', 'Simon', 'Michel', 'Lefebvre', 'Leroy', 'Roux', 'David', 'Bertrand', 'Morel', 'Fournier', 'Girard', 'Bonnet', 'Dupont', 'Lambert', 'Fontaine', 'Rousseau', 'Vincent', 'Muller', 'Lefèvre', 'Faure', 'André', 'Mercier', 'Blanc', 'Guérin', 'Boyer', 'Garnier', 'Chevalier', 'François', 'Legrand', 'Gauthier', 'Garcia'];
const PRENOMS = ['Marie', 'Jeanne', 'Françoise', 'Monique', 'Catherine', 'Nathalie', 'Isabelle', 'Jacqueline', 'Sylvie', 'Anne', 'Jean', 'Pierre', 'Michel', 'André', 'Philippe', 'René', 'Louis', 'Alain', 'Jacques', 'Bernard'];

type Json = Record<string, unknown>;

export interface CloneOptions {
  /**
   * The share of the copies that are usagers with a projet personnalisé (a copy of a stored
   * usager who is the subject of an active CarePlan, with everything about them: CarePlan,
   * accords, attentes/objectifs, actions, besoins, evaluations, contacts, documents), the rest
   * copies of SSIAD usagers; `'stored'`: their share among the stored usagers copied from
   * (those with a séjour or a projet). Default 0: SSIAD usagers only.
   */
  ppShare?: number | 'stored';
}

/** A copied projet's dates move back by up to this many days (0 for the first copy), so that some yearly reviews are due. */
export const PP_DATE_SPREAD_DAYS = 200;

/**
 * Adds usagers until `total` Patients are stored, each a copy of a stored usager with new ids, a
 * new local identifier (which prefixes every business identifier of theirs) and another name:
 * a SSIAD usager (their Patient, séjours, evaluations, last 4 events and their transports) or,
 * for `ppShare` of them, a usager with a projet personnalisé (see CloneOptions), every date of
 * the copy but the birth date moved back by the same number of days (spread over
 * PP_DATE_SPREAD_DAYS), so that the accords' dates — the validation dates of the projets — are
 * spread and some reviews are due. Written in batches through the storage's write path
 * (history, current row, search index and the derived tables: usagers' sort keys, Pilotage
 * counts, PPA validation dates), each usager whole in one batch, with the owner of the copied
 * resources. Returns the number of resources written.
 */
export async function cloneUsagers(repo: Repository, total: number, options: CloneOptions = {}): Promise<number> {
  const have = Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0].n);
  if (have >= total) return 0;
  const parse = (c: Json | string) => (typeof c === 'string' ? (JSON.parse(c) as Json) : c);
  type Template = { resources: Json[]; owners: Map<string, string> };
  const template = (rows: { content: Json | string; owner: string }[]): Template => {
    const resources = rows.map((r) => parse(r.content));
    return { resources, owners: new Map(resources.map((r, n) => [`${String(r.resourceType)}/${String(r.id)}`, rows[n]!.owner])) };
  };
  // SSIAD templates: stored usagers with a séjour, with everything attached to them.
  const stays = await repo.db.query<{ content: Json | string }>(
    `SELECT content FROM resource WHERE resource_type = 'Encounter' AND NOT deleted
       AND jsonb_path_exists(content, '$.identifier[*] ? (@.system == "https://identifiant-medicosocial-sejour.esante.gouv.fr")') LIMIT 50`,
  );
  const templates: Template[] = [];
  for (const row of stays.rows) {
    const stay = parse(row.content);
    const patientRef = (stay.subject as { reference?: string } | undefined)?.reference;
    if (!patientRef?.startsWith('Patient/')) continue;
    const patientId = patientRef.slice(8);
    const related = await repo.db.query<{ content: Json | string; owner: string }>(
      `SELECT content, owner FROM resource WHERE NOT deleted AND ((resource_type = 'Patient' AND id = $1)
          OR (resource_type IN ('Encounter', 'QuestionnaireResponse') AND content->'subject'->>'reference' = $2))`,
      [patientId, patientRef],
    );
    // A bounded copy: the séjours, the evaluations and the last 4 events (with their transports).
    const all = related.rows.map((r) => parse(r.content));
    const isStay = (r: Json) => JSON.stringify(r.identifier ?? '').includes('identifiant-medicosocial-sejour');
    const start = (r: Json) => String((r.period as Json | undefined)?.start ?? '');
    const events = new Set(all.filter((r) => r.resourceType === 'Encounter' && !isStay(r)).sort((a, b) => start(b).localeCompare(start(a))).slice(0, 4));
    const kept = related.rows.filter((_, n) => all[n]!.resourceType !== 'Encounter' || isStay(all[n]!) || events.has(all[n]!));
    const transports = await repo.db.query<{ content: Json | string; owner: string }>(
      `SELECT content, owner FROM resource WHERE resource_type = 'Task' AND NOT deleted AND content->'encounter'->>'reference' = ANY($1::text[])`,
      [[...events].map((r) => `Encounter/${String(r.id)}`)],
    );
    const t = template([...kept, ...transports.rows]);
    if (t.resources.some((r) => r.resourceType === 'Patient')) templates.push(t);
  }
  if (templates.length === 0) throw new Error('cloneUsagers: no stored usager with a séjour to copy');
  // Templates with a projet personnalisé: the subjects of active CarePlans, with what refers to
  // them and what refers to that (the PP-PA Bundle's content: Tasks part of the actions, …);
  // the directory (professionals, organisations) and other usagers are referred to, not copied.
  const ppTemplates: Template[] = [];
  let ppShare = typeof options.ppShare === 'number' ? options.ppShare : 0;
  if (options.ppShare !== undefined && options.ppShare !== 0) {
    const subjects = await repo.db.query<{ id: string }>(
      `SELECT DISTINCT substr(content->'subject'->>'reference', 9) AS id FROM resource
        WHERE resource_type = 'CarePlan' AND NOT deleted AND content->>'status' = 'active' AND content->'subject'->>'reference' LIKE 'Patient/%'
        ORDER BY 1 LIMIT 50`,
    );
    for (const { id } of subjects.rows) {
      // The usager's local identifier prefixes their business identifiers: the Tasks it names
      // belong to them even when they do not refer to them (the official PA example's actions
      // name another CarePlan and no usager; the usager page finds them the same way, by
      // tasksOfLocalId). Without them the copies' moyens stayed parts of the template's actions.
      const local = await repo.db.query<{ v: string | null }>(
        `SELECT (SELECT i->>'value' FROM jsonb_array_elements(CASE jsonb_typeof(content->'identifier') WHEN 'array' THEN content->'identifier' ELSE '[]' END) i
                  WHERE i->>'system' = 'https://identifiant-medicosocial-localusager.esante.gouv.fr' LIMIT 1) AS v
           FROM resource WHERE resource_type = 'Patient' AND id = $1`,
        [id],
      );
      const localId = local.rows[0]?.v;
      const prefix = localId ? `${localId.replace(/[\\%_]/g, (c) => `\\${c}`)}-%` : '';
      const rows = await repo.db.query<{ content: Json | string; owner: string }>(
        `WITH l1 AS (SELECT DISTINCT resource_type, id FROM search_reference WHERE target_type = 'Patient' AND target_id = $1
                     UNION SELECT resource_type, id FROM search_token WHERE $2 <> '' AND resource_type = 'Task' AND param = 'identifier' AND code LIKE $2),
              l2 AS (SELECT DISTINCT s.resource_type, s.id FROM search_reference s JOIN l1 ON s.target_type = l1.resource_type AND s.target_id = l1.id)
         SELECT r.content, r.owner FROM resource r
          WHERE NOT r.deleted AND ((r.resource_type = 'Patient' AND r.id = $1)
             OR ((r.resource_type, r.id) IN (SELECT * FROM l1 UNION SELECT * FROM l2)
                 AND r.resource_type NOT IN ('Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Location', 'HealthcareService', 'Device')))`,
        [id, prefix],
      );
      const t = template(rows.rows);
      if (t.resources.some((r) => r.resourceType === 'Patient') && t.resources.some((r) => r.resourceType === 'CarePlan')) ppTemplates.push(t);
    }
    if (options.ppShare === 'stored') {
      const share = await repo.db.query<{ pp: number; ssiad: number }>(
        `SELECT count(DISTINCT substr(content->'subject'->>'reference', 9)) FILTER (WHERE resource_type = 'CarePlan' AND content->>'status' = 'active')::int AS pp,
                count(DISTINCT content->'subject'->>'reference') FILTER (WHERE resource_type = 'Encounter'
                  AND jsonb_path_exists(content, '$.identifier[*] ? (@.system == "https://identifiant-medicosocial-sejour.esante.gouv.fr")'))::int AS ssiad
           FROM resource WHERE resource_type IN ('CarePlan', 'Encounter') AND NOT deleted AND content->'subject'->>'reference' LIKE 'Patient/%'`,
      );
      const { pp, ssiad } = share.rows[0]!;
      ppShare = pp + ssiad > 0 ? pp / (pp + ssiad) : 0;
    }
    if (ppTemplates.length === 0) ppShare = 0;
  }
  let written = 0;
  let batch: VersionToWrite[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, items));
    // Their derived rows too, batch by batch (D-356), so that the pages read a database as ingestion leaves it.
    await repo.drainDerived();
    written += items.length;
  };
  const lastUpdated = new Date().toISOString();
  let pps = 0;
  for (let n = have; n < total; n++) {
    // The n-th copy is a usager with a projet when the running share steps over an integer.
    const pp = Math.floor((n - have + 1) * ppShare) > Math.floor((n - have) * ppShare);
    const { resources, owners } = pp ? ppTemplates[pps % ppTemplates.length]! : templates[(n - pps) % templates.length]!;
    const patient = resources.find((r) => r.resourceType === 'Patient')!;
    const pi = ((patient.identifier as Json[]) ?? []).find((i) => i.system === 'https://identifiant-medicosocial-localusager.esante.gouv.fr')?.value as string | undefined;
    const newPi = pi ? `${pi.split('/')[0]}/9${String(n).padStart(8, '0')}` : undefined;
    // One string rewrite per usager: ids and the local identifier (a prefix of every business id).
    let text = JSON.stringify(resources);
    const ids = new Map(resources.map((r) => [String(r.id), newId()]));
    for (const [from, to] of ids) text = text.split(from).join(to);
    if (pi && newPi) text = text.split(pi).join(newPi);
    const copy = JSON.parse(text) as FhirResource[];
    const p = copy.find((r) => r.resourceType === 'Patient')!;
    const given = PRENOMS[(n * 7) % PRENOMS.length];
    const family = NOMS[(n * 13) % NOMS.length].toUpperCase();
    p.name = [{ use: 'official', family, given: [given] }];
    // The INS is personal: clones keep only their local identifier.
    p.identifier = ((p.identifier as Json[]) ?? []).filter((i) => i.system === 'https://identifiant-medicosocial-localusager.esante.gouv.fr');
    delete p.extension;
    if (pp) {
      // Spread over the days (a multiplicative hash of the copy's number): 0 for the first one.
      shiftDates(copy, Math.floor((((pps * 2654435761) >>> 0) % 1_000_003) / 1_000_003 * (PP_DATE_SPREAD_DAYS + 1)));
      for (const r of copy) if (r.resourceType === 'CarePlan' && typeof r.title === 'string' && r.title.startsWith('Projet personnalisé de ')) r.title = `Projet personnalisé de ${given} ${family}`;
      pps++;
    }
    const owner = new Map([...owners].map(([k, v]) => [k.replace(/\/(.*)$/, (_, id: string) => `/${ids.get(id) ?? id}`), v]));
    for (const r of copy) {
      const stored = { ...r, meta: { ...(r.meta ?? {}), versionId: '1', lastUpdated } };
      batch.push({ resourceType: r.resourceType, id: String(r.id), versionId: 1, lastUpdated, owner: owner.get(`${r.resourceType}/${String(r.id)}`) ?? '', existed: false, resource: stored });
    }
    if (batch.length >= 2000) await flush();
  }
  await flush();
  return written;
}

const DAY_MS = 86_400_000;

/**
 * Moves every date and dateTime of the resources (but birth dates) `days` back, in place: the
 * day changes, the time and offset as written stay (a FHIR dateTime either way).
 */
export function shiftDates(resources: unknown[], days: number): void {
  if (days === 0) return;
  const visit = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const m = /^(\d{4})-(\d{2})-(\d{2})(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))?$/.exec(node);
      if (!m) return node;
      const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - days * DAY_MS).toISOString().slice(0, 10);
      return day + (m[4] ?? '');
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) node[i] = visit(node[i]);
    } else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      for (const k of Object.keys(o)) if (k !== 'birthDate' && k !== 'meta') o[k] = visit(o[k]);
    }
    return node;
  };
  for (const r of resources) visit(r);
}

/** Pilotage figures with something in them, in a stable order (the two computations may list zeros differently). */
function normalisedFigures(f: PilotageFigures): Record<string, string[]> {
  const girs = new Map<string, number>();
  for (const g of f.gir) girs.set(`${g.finess}|${g.gir ?? '?'}`, (girs.get(`${g.finess}|${g.gir ?? '?'}`) ?? 0) + g.usagers);
  return {
    usagers: f.usagers.filter((u) => u.usagers || u.active || u.activeStays).map((u) => `${u.finess}: ${u.usagers}/${u.active}/${u.activeStays}`).sort(),
    gir: [...girs].filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).sort(),
    activity: f.activity.filter((a) => a.n).map((a) => `${a.finess} ${a.week} ${a.kind}: ${a.n}`).sort(),
    evaluations: [...f.evaluations].filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).sort(),
  };
}

/**
 * Where the tables derived on write (migrations 0161, 0180) differ from their full
 * recomputation, for the Paris days given (empty: they agree): the Pilotage figures against
 * indicators.ts' computation from every resource; the due reviews and their counts against
 * `recomputeDueReviews` (several review periods); and the three tables — usagers' sort keys,
 * Pilotage counts (summed per figure), PPA validation dates — against their refresh functions
 * (`pilotage_refresh`, `ppa_refresh`) run for every stored resource of the derived types, in
 * chunks and without per-usager locks as migration 0161's backfill, in a transaction then
 * rolled back; and the usagers' counts (usager_count, migration 0198) against `usager_sort` counted.
 */
export async function derivedTablesDiffer(repo: Repository, days: string[]): Promise<string[]> {
  // (What was written is refreshed first: the drain, D-356.)
  await repo.drainDerived();
  const problems: string[] = [];
  for (const day of days) {
    const full = await readAggregates(repo.db, async (q) => ({
      usagers: await usagersByOrganisation(q, day),
      gir: await girByOrganisation(q, day),
      activity: await activityByWeek(q),
      evaluations: await evaluationsByOrganisation(q, day),
    }));
    if (!isDeepStrictEqual(normalisedFigures(await pilotageFigures(repo.db, day)), normalisedFigures(full))) problems.push(`Pilotage figures on ${day}`);
    for (const months of [12, 1, 18]) {
      const now = new Date(`${day}T12:00:00Z`);
      const recomputed = await recomputeDueReviews(repo, { now, months });
      if (!isDeepStrictEqual(await dueReviews(repo, { now, months }), recomputed)) problems.push(`due reviews on ${day}, ${months} months`);
      const counts = new Map<string, number>();
      for (const x of recomputed) counts.set(x.finess ?? '', (counts.get(x.finess ?? '') ?? 0) + 1);
      if (!isDeepStrictEqual(await dueReviewCounts(repo.db, day, months), counts)) problems.push(`due review counts on ${day}, ${months} months`);
    }
  }
  const kept = await repo.db.query<{ g: string; n: string }>(
    `SELECT concat_ws(' ', owner, finess, no_finess, no_name, no_local, no_birth, no_gender) AS g, sum(n)::text AS n FROM usager_count
      GROUP BY owner, finess, no_finess, no_name, no_local, no_birth, no_gender HAVING sum(n) <> 0 ORDER BY 1`,
  );
  const counted = await repo.db.query<{ g: string; n: string }>(
    `SELECT concat_ws(' ', owner, coalesce(finess, ''), finess IS NULL, name_key IS NULL, local_id IS NULL, birth_date IS NULL, gender IS NULL) AS g, count(*)::text AS n
       FROM usager_sort GROUP BY owner, coalesce(finess, ''), finess IS NULL, name_key IS NULL, local_id IS NULL, birth_date IS NULL, gender IS NULL ORDER BY 1`,
  );
  if (!isDeepStrictEqual(kept.rows, counted.rows)) problems.push(`usager counts: ${kept.rows.length} groups kept, ${counted.rows.length} counted`);
  const dump = async (q: Queryable) => ({
    usager_sort: (await q.query<{ j: string }>(`SELECT row_to_json(u)::text AS j FROM usager_sort u ORDER BY id`)).rows.map((r) => r.j),
    pilotage_count: (await q.query<{ j: string }>(
      `SELECT concat_ws(' ', kind, finess, key, day, sum(n)) AS j FROM pilotage_count GROUP BY kind, finess, key, day HAVING sum(n) <> 0 ORDER BY 1`,
    )).rows.map((r) => r.j),
    ppa_validation: (await q.query<{ j: string }>(`SELECT row_to_json(v)::text AS j FROM ppa_validation v ORDER BY careplan`)).rows.map((r) => r.j),
  });
  const ROLLBACK = new Error('rollback');
  await repo.db
    .transaction(async (tx) => {
      const kept = await dump(tx);
      // As migration 0161's backfill: in chunks of 1,000 resources (one call over everything is
      // quadratic), without the per-usager advisory locks (one per stored usager in one
      // transaction would exhaust PostgreSQL's lock table, which is cluster-wide).
      await tx.query(`SELECT set_config('tddui.backfill', 'on', true)`);
      const chunks = await tx.query<{ t: string[]; i: string[] }>(
        `SELECT array_agg(resource_type) AS t, array_agg(id) AS i
           FROM (SELECT resource_type, id, (row_number() OVER (ORDER BY resource_type, id) - 1) / 1000 AS chunk FROM resource
                  WHERE NOT deleted AND resource_type IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse', 'CarePlan', 'Consent')) x
          GROUP BY chunk ORDER BY chunk`,
      );
      for (const c of chunks.rows) {
        await tx.query(`SELECT pilotage_refresh($1::text[], $2::text[])`, [c.t, c.i]);
        await tx.query(`SELECT ppa_refresh($1::text[], $2::text[], false)`, [c.t, c.i]);
      }
      const locks = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`);
      if (locks.rows[0]!.n > 0) problems.push(`the recomputation took ${locks.rows[0]!.n} advisory locks`);
      const recomputed = await dump(tx);
      for (const k of Object.keys(kept) as (keyof typeof kept)[]) {
        if (!isDeepStrictEqual(kept[k], recomputed[k])) problems.push(`${k}: ${kept[k].length} rows kept, ${recomputed[k].length} recomputed`);
      }
      throw ROLLBACK;
    })
    .catch((e: unknown) => {
      if (e !== ROLLBACK) throw e;
    });
  return problems;
}
