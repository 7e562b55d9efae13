// What TDDUI 2.3.0 adds to the usager page: the new Patient extensions and identifiers
// (nationality, death date and place, household situation, comment, driving licences) and the
// usager's Observations (cause of death, mobility, school period). Kept apart from usager.ts:
// the page calls these two sections and otherwise knows nothing of 2.3.0.
import { html, type SafeHtml } from '../html.js';
import { arr, codeText, extensions, extString, frDate, isObj, keyOf, refOf, str, type Json } from '../fhir-util.js';
import type { Repository } from '../../storage/types.js';

const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/';
const FR_SD = 'https://hl7.fr/ig/fhir/core/StructureDefinition/';
const V23_EXT = {
  nationality: FR_SD + 'fr-core-patient-nationality',
  deathPlace: FR_SD + 'fr-core-patient-death-place',
  household: TDDUI_SD + 'tddui-household-situation',
  comment: TDDUI_SD + 'tddui-comment',
};
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const PATIENT_VALIDATION = TDDUI_SD + 'tddui-patient-validation';

/**
 * TDDUI 2.3.0's `tddui-patient-validation` on an event (Encounter): whether the usager confirmed
 * that the event took place, in French; undefined when the event does not say.
 */
export function patientValidationText(e: Json): string | undefined {
  const v = extensions(e, PATIENT_VALIDATION)[0]?.valueBoolean;
  return v === true ? 'confirmé par l’usager' : v === false ? 'non confirmé par l’usager' : undefined;
}

/** The usager's Observations (2.3.0), newest first (at most 200), and their performers by `Type/id`. */
export async function loadObservations(repo: Repository, patientId: string): Promise<{ observations: Json[]; performers: Map<string, Json> }> {
  const res = await repo.search({ resourceType: 'Observation', params: [{ name: 'subject', values: [`Patient/${patientId}`] }], count: 200, offset: 0, total: 'none' });
  const observations = res.matches.map((m) => m.resource as Json);
  const when = (o: Json) => str(o.effectiveDateTime) ?? str(isObj(o.effectivePeriod) ? o.effectivePeriod.start : undefined) ?? '';
  observations.sort((a, b) => when(b).localeCompare(when(a)));
  const performers = new Map<string, Json>();
  for (const k of new Set(observations.flatMap((o) => arr(o.performer).map((p) => refOf(p)).filter((x): x is string => !!x)))) {
    const [type, id] = k.split('/');
    if (!type || !id) continue;
    try {
      performers.set(k, (await repo.read(type, id)).resource as Json);
    } catch {
      // Not stored (a reference outside the Bundle): shown by its display, if any.
    }
  }
  return { observations, performers };
}

function part(ext: Json | undefined, url: string): Json[] {
  return arr(ext?.extension).filter((x) => x.url === url);
}

/** Rows for the 2.3.0 Patient fields present (none: nothing is shown). */
export function patientV23Rows(p: Json): SafeHtml {
  const rows: SafeHtml[] = [];
  const nat = extensions(p, V23_EXT.nationality)[0];
  const natCode = codeText(part(nat, 'code')[0]?.valueCodeableConcept);
  if (natCode) rows.push(html`<tr><th>Nationalité</th><td>${natCode}</td></tr>`);
  const deceased = str(p.deceasedDateTime) ?? (p.deceasedBoolean === true ? 'oui' : undefined);
  const deathPlace = extString(p, V23_EXT.deathPlace);
  if (deceased || deathPlace) rows.push(html`<tr><th>Décès</th><td>${deceased && deceased !== 'oui' ? frDate(deceased) : deceased ?? ''}${deathPlace ? ` — ${deathPlace}` : ''}</td></tr>`);
  const hh = extensions(p, V23_EXT.household)[0];
  if (hh) {
    const fam = codeText(part(hh, 'familySituation')[0]?.valueCodeableConcept);
    const comp = part(hh, 'householdComposition').map((x) => codeText(x.valueCodeableConcept)).filter(Boolean);
    const desc = str(part(hh, 'householdCompositionDescription')[0]?.valueString);
    rows.push(html`<tr><th>Situation du foyer</th><td>${[fam, comp.length ? `composition : ${comp.join(', ')}` : undefined, desc].filter(Boolean).join(' — ')}</td></tr>`);
  }
  const comment = extString(p, V23_EXT.comment);
  if (comment) rows.push(html`<tr><th>Commentaire</th><td>${comment}</td></tr>`);
  const licences = arr(p.identifier).filter((i) => arr(isObj(i.type) ? i.type.coding : undefined).some((c) => c.system === V2_0203 && c.code === 'DL'));
  if (licences.length) {
    rows.push(html`<tr><th>Permis de conduire</th><td>${licences.map((l, i) => html`${i ? ', ' : ''}<code>${str(l.value) ?? ''}</code>${isObj(l.period) && str(l.period.start) ? ` (depuis le ${frDate(l.period.start)})` : ''}`)}</td></tr>`);
  }
  if (rows.length === 0) return html``;
  return html`<table class="kv v23" id="identite-2-3">${rows}</table>`;
}

function observationKind(o: Json): string {
  const code = str(arr(isObj(o.code) ? o.code.coding : undefined)[0]?.code);
  return code === '79378-6' ? 'Cause du décès' : code === 'LP73551-1' ? 'Mobilité' : code === 'PERIODESCOL' ? 'Période scolaire' : codeText(o.code) ?? 'Observation';
}

function observationDetail(o: Json, names: Map<string, string>): string {
  const code = str(arr(isObj(o.code) ? o.code.coding : undefined)[0]?.code);
  const comps = arr(o.component);
  if (code === '79378-6') return comps.map((c) => codeText(c.valueCodeableConcept)).filter(Boolean).join(', ');
  if (code === 'LP73551-1') {
    const am = comps.find((c) => arr(isObj(c.code) ? c.code.coding : undefined).some((x) => x.code === 'OBSAMENAGEMENT'));
    return [codeText(o.valueCodeableConcept), str(am?.valueString)].filter(Boolean).join(' — ');
  }
  if (code === 'PERIODESCOL') {
    const byCode = (k: string) => comps.filter((c) => arr(isObj(c.code) ? c.code.coding : undefined).some((x) => x.code === k));
    const types = byCode('typeEnseignementSpecialise').map((c) => codeText(c.valueCodeableConcept));
    const diplomes = byCode('diplome').map((c) => codeText(c.valueCodeableConcept));
    const vol = byCode('volumeScolarisation')[0]?.valueQuantity as Json | undefined;
    const referent = arr(o.performer).map((p) => names.get(refOf(p) ?? '') ?? str(p.display)).filter(Boolean);
    return [
      types.length ? `enseignement : ${types.join(', ')}` : undefined,
      diplomes.length ? `diplôme : ${diplomes.join(', ')}` : undefined,
      vol?.value !== undefined ? `${String(vol.value)} h par semaine` : undefined,
      referent.length ? `référent : ${referent.join(', ')}` : undefined,
      str(arr(o.note)[0]?.text),
    ]
      .filter(Boolean)
      .join(' — ');
  }
  return codeText(o.valueCodeableConcept) ?? str(o.valueString) ?? '';
}

/** The Observations card (TDDUI 2.3.0); `actors` names performers by `Type/id`. */
export function observationsSection(observations: Json[], actors: Map<string, Json>): SafeHtml {
  if (observations.length === 0) return html``;
  const names = new Map<string, string>();
  for (const [k, r] of actors) {
    const n = arr(r.name)[0];
    names.set(k, typeof r.name === 'string' ? r.name : [str(n?.family), ...arr(n?.given as unknown).map(String)].filter(Boolean).join(' ') || k);
  }
  const when = (o: Json) =>
    str(o.effectiveDateTime) ? frDate(o.effectiveDateTime) : isObj(o.effectivePeriod) ? `${frDate(o.effectivePeriod.start)} → ${o.effectivePeriod.end ? frDate(o.effectivePeriod.end) : '…'}` : '';
  return html`<section class="card" id="observations"><h2>Observations (TDDUI 2.3.0)</h2>
<table class="list"><thead><tr><th>Type</th><th>Date / période</th><th>Détail</th><th>Statut</th></tr></thead><tbody>
${observations.map((o) => html`<tr data-key="${keyOf(o)}"><td>${observationKind(o)}</td><td>${when(o)}</td><td>${observationDetail(o, names)}</td><td>${str(o.status) ?? ''}</td></tr>`)}
</tbody></table></section>`;
}
