// Test and benchmark data for the UI: the official example Bundles and generated usagers go
// through the real ingest pipeline; for volume (10,000 usagers), stored SSIAD usagers are
// cloned with fresh ids and identifiers through the storage's batched write path.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestTransaction, type IngestResult } from '../../ingest/index.js';
import { generateUsagers } from '../../producer/generate/index.js';
import { buildBundle } from '../../producer/build/index.js';
import { newId } from '../../storage/repository.js';
import { writeVersions, type VersionToWrite } from '../../storage/writer.js';
import type { FhirResource, Repository } from '../../storage/types.js';
import type { TdduiValidator } from '../../tddui/validator.js';
import { EXAMPLES_DIR } from '../../testing/paths.js';

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

/**
 * Adds usagers until `total` Patients are stored, each a copy of a stored SSIAD usager (its
 * Patient, séjours, evaluations, events and their transports) with new ids, a new local
 * identifier and another name. Written in batches through the storage's write path (history,
 * current row and search index), like ingest does. Returns the number of resources written.
 */
export async function cloneUsagers(repo: Repository, total: number, options: { withPpa?: boolean } = {}): Promise<number> {
  const have = Number((await repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient'`)).rows[0].n);
  if (have >= total) return 0;
  // Templates: stored usagers with a séjour, with everything attached to them.
  const stays = await repo.db.query<{ content: Json | string }>(
    `SELECT content FROM resource WHERE resource_type = 'Encounter'
       AND jsonb_path_exists(content, '$.identifier[*] ? (@.system == "https://identifiant-medicosocial-sejour.esante.gouv.fr")') LIMIT 50`,
  );
  const parse = (c: Json | string) => (typeof c === 'string' ? (JSON.parse(c) as Json) : c);
  const templates: Json[][] = [];
  for (const row of stays.rows) {
    const stay = parse(row.content);
    const patientRef = (stay.subject as { reference?: string } | undefined)?.reference;
    if (!patientRef?.startsWith('Patient/')) continue;
    const patientId = patientRef.slice(8);
    const related = await repo.db.query<{ content: Json | string }>(
      `SELECT content FROM resource WHERE (resource_type = 'Patient' AND id = $1)
          OR (resource_type IN ('Encounter', 'QuestionnaireResponse') AND content->'subject'->>'reference' = $2)
          OR ($3 AND ((resource_type = 'CarePlan' AND content->'subject'->>'reference' = $2) OR (resource_type = 'Consent' AND content->'patient'->>'reference' = $2)))`,
      [patientId, patientRef, options.withPpa ?? false],
    );
    // A bounded copy (with `withPpa`, the projets personnalisés and their accords too): the séjours, the evaluations and the last 4 events (with their transports).
    const all = related.rows.map((r) => parse(r.content));
    const isStay = (r: Json) => JSON.stringify(r.identifier ?? '').includes('identifiant-medicosocial-sejour');
    const start = (r: Json) => String((r.period as Json | undefined)?.start ?? '');
    const events = all.filter((r) => r.resourceType === 'Encounter' && !isStay(r)).sort((a, b) => start(b).localeCompare(start(a))).slice(0, 4);
    const resources = [...all.filter((r) => r.resourceType !== 'Encounter' || isStay(r)), ...events];
    const eventRefs = events.map((r) => `Encounter/${String(r.id)}`);
    const transports = await repo.db.query<{ content: Json | string }>(
      `SELECT content FROM resource WHERE resource_type = 'Task' AND content->'encounter'->>'reference' = ANY($1::text[])`,
      [eventRefs],
    );
    resources.push(...transports.rows.map((r) => parse(r.content)));
    if (resources.some((r) => r.resourceType === 'Patient')) templates.push(resources);
  }
  if (templates.length === 0) throw new Error('cloneUsagers: no stored usager with a séjour to copy');
  let written = 0;
  let batch: VersionToWrite[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    await repo.db.transaction((tx) => writeVersions(tx, repo.searchParams, items));
    written += items.length;
  };
  const lastUpdated = new Date().toISOString();
  for (let n = have; n < total; n++) {
    const template = templates[n % templates.length];
    const patient = template.find((r) => r.resourceType === 'Patient')!;
    const pi = ((patient.identifier as Json[]) ?? []).find((i) => i.system === 'https://identifiant-medicosocial-localusager.esante.gouv.fr')?.value as string | undefined;
    const newPi = pi ? `${pi.split('/')[0]}/9${String(n).padStart(8, '0')}` : undefined;
    // One string rewrite per usager: ids and the local identifier (a prefix of every business id).
    let text = JSON.stringify(template);
    const ids = new Map(template.map((r) => [String(r.id), newId()]));
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
    for (const r of copy) {
      const stored = { ...r, meta: { ...(r.meta ?? {}), versionId: '1', lastUpdated } };
      batch.push({ resourceType: r.resourceType, id: String(r.id), versionId: 1, lastUpdated, owner: '', existed: false, resource: stored });
    }
    if (batch.length >= 2000) await flush();
  }
  await flush();
  return written;
}
