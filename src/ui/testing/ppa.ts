// A generated projet personnalisé for the PPA tests (versions, diff, reviews).
import assert from 'node:assert/strict';
import { generateUsagers, type PivotInput } from '../../producer/index.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The first generated usager with a projet personnalisé (deterministic seed). */
export function generatedPpa(): PivotInput & { projetsPersonnalises: Json[] } {
  const u = generateUsagers({ count: 12, seed: 3, endDate: '2026-06-30' }).find((p) => (p.projetsPersonnalises ?? []).length > 0);
  assert.ok(u, 'a generated usager with a PP');
  return u as PivotInput & { projetsPersonnalises: Json[] };
}

/** The three changes of the issue: one goal added, one action closed, one goal reworded. */
export function threeChanges(u: PivotInput & { projetsPersonnalises: Json[] }): PivotInput {
  const v2 = structuredClone(u);
  const pp = v2.projetsPersonnalises[0];
  pp.objectifs.push({ ...pp.objectifs[0], id: '9991', titre: 'Maintenir le lien social', description: 'Participer à une activité collective chaque semaine' });
  pp.actions[0].statut = 'completed';
  pp.objectifs[0].titre = 'Marcher sans aide dans le jardin';
  return v2;
}

