// TDDUI on the general FHIR server core: what the IG's receiver (the TDDUI *Consommateur*)
// serves, its transaction Bundles (flow 1: POST-only entries, resend matching by business
// identifiers within the FINESS — ingestTransaction), and the v1 DocumentReference flows
// (create with resend matching and the submission log; PATCH limited to `content`), all
// registered through the IgModule point of src/rest/modules.ts. The other IGs (volets) plug in
// the same way.
import type { FhirResource, Json } from '../fhir/json.js';
import { isObject, sameJson } from '../fhir/json.js';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import type { CanonicalResource } from '../fhir/packages/registry.js';
import type { IgModule, WriteContext } from '../rest/modules.js';
import { declare, declaresProfile, patientOf, type EventDeclaration, type WrittenChange } from '../rest/events.js';
import type { Interaction } from '../rest/served.js';
import type { Repository } from '../storage/types.js';
import { TDDUI_KEY_POLICY } from '../tddui/business-keys.js';
import { TDDUI_CANONICAL, TDDUI_PACKAGE } from '../tddui/ig.js';
import type { TdduiValidator } from '../tddui/validator.js';
import { logDocumentSubmission } from './document-log.js';
import { ingestTransaction, type CheckedElsewhere } from './index.js';
import { ppaFrozenGuard } from './ppa-frozen.js';

export const TDDUI_CONSOMMATEUR = `${TDDUI_CANONICAL}/CapabilityStatement/TDDUIConsommateur`;

/** The resource types of TDDUIConsommateur, used when the IG package is not loaded. */
export const CONSOMMATEUR_TYPES = [
  'Patient', 'Organization', 'Encounter', 'Practitioner', 'PractitionerRole', 'Task', 'QuestionnaireResponse',
  'DocumentReference', 'CarePlan', 'Consent', 'Goal', 'ServiceRequest', 'RelatedPerson',
];

/** Stable rule id of the v1 flow 3 restriction (PATCH changes only `content`). */
export const PATCH_CONTENT_ONLY_RULE = 'tddui-v1-patch-content-only';
/** Elements a v1 PATCH may change: the document itself, and meta (managed by the server). */
const PATCHABLE = new Set(['content', 'meta', 'resourceType', 'id']);

/** Top-level elements other than `content` / `meta` that differ between the stored and the patched resource. */
export function changedOutsideContent(stored: FhirResource, patched: FhirResource): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(patched)]);
  // `_status` (a primitive's id/extensions) belongs to `status`.
  const names = [...keys].filter((k) => !PATCHABLE.has(k.replace(/^_/, '')) && !sameJson(stored[k], patched[k])).map((k) => k.replace(/^_/, ''));
  return [...new Set(names)].sort();
}

function contentOnlyIssues(type: string, changed: string[]): ValidationIssue[] {
  return changed.map((name) => ({
    severity: 'error' as const,
    code: 'business-rule' as const,
    rule: PATCH_CONTENT_ONLY_RULE,
    message: `A PATCH of a ${type} (TDDUI v1 flow 3) may only change content (the document); it changes ${type}.${name}`,
    messageFr: `Un PATCH de ${type} (flux 3 de TDDUI v1) ne peut modifier que content (le document) ; celui-ci modifie ${type}.${name}`,
    expression: `${type}.${name}`,
    source: 'TDDUI v1 (1.1.0), description_flux_3',
  }));
}

function declaresTdduiProfile(r: Json): boolean {
  const p = isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
  return p.some((x) => typeof x === 'string' && x.startsWith(TDDUI_CANONICAL + '/'));
}

export interface TdduiModuleOptions {
  repo: Repository;
  validator: TdduiValidator;
  log?: { error(obj: object, msg: string): void };
  /** The checks before storing off the event loop (a worker pool): see IngestContext.offload. */
  offload?: (input: { bytes: Buffer } | { resource: unknown }, now: Date) => Promise<CheckedElsewhere | undefined>;
}

/** The TDDUI IG module. */
export function tdduiModule(opts: TdduiModuleOptions): IgModule {
  const { repo, validator } = opts;
  const log = opts.log ?? { error: () => undefined };
  const cs = validator.engine.registry.resolve<CanonicalResource & { rest?: { resource?: { type: string }[] }[] }>(TDDUI_CONSOMMATEUR, 'CapabilityStatement');
  const types = [...new Set(cs?.rest?.flatMap((r) => (r.resource ?? []).map((x) => x.type)) ?? [])];
  const served = types.length ? types : CONSOMMATEUR_TYPES;
  return {
    name: TDDUI_PACKAGE,
    served: () =>
      served.map((type) => {
        const interactions: Interaction[] = ['read', 'vread', 'search-type', 'history-instance', 'history-type'];
        // TDDUI v1 flows 1 and 3: a document created alone, then patched.
        if (type === 'DocumentReference') interactions.push('create', 'patch');
        // Its profiles of the type in every accepted version (`url|version`): /metadata's supportedProfile.
        const supportedProfiles = validator.igs.flatMap((ig) => (ig.profilesByType.get(type) ?? []).map((url) => `${url}|${ig.version}`));
        return { type, interactions, ...(supportedProfiles.length ? { supportedProfiles } : {}) };
      }),
    owns: (resource) => declaresTdduiProfile(resource),
    // The TDDUI validator chooses the TDDUI profile and runs the business rules.
    validate: (resource) => validator.validate(resource).issues,
    rules: (resource: FhirResource, ctx: WriteContext) => {
      if (ctx.interaction !== 'patch' || !ctx.current) return [];
      return contentOnlyIssues(ctx.type, changedOutsideContent(ctx.current.resource, resource));
    },
    businessKeys: (resource) => {
      const owner = TDDUI_KEY_POLICY.ownerOf(resource);
      return { ...(owner !== undefined ? { owner } : {}), keys: TDDUI_KEY_POLICY.keysOf(resource) };
    },
    onCreate: (e) =>
      logDocumentSubmission(
        repo,
        log,
        e.submitted,
        { status: e.status, outcome: e.outcome, ...(e.stored ? { stored: e.stored } : {}) },
        e.receivedAt,
        e.client,
      ),
    events: tdduiEvents,
    // A validated projet personnalisé is frozen (D-150).
    guard: ppaFrozenGuard,
    bundle: {
      // Its own Bundles (they declare the TDDUI Bundle profile); every Bundle when TDDUI is the
      // only IG served (the TDDUI receiver as it always was).
      claims: (bundle, ctx) => ctx.alone || declaresTdduiProfile(bundle),
      handle: (bundle, ctx) => {
        const offload = opts.offload;
        const bytes = ctx?.bytes;
        // Checked already by the worker that read the body (the server's transaction route).
        const checked = ctx?.checked as CheckedElsewhere | undefined;
        const at = ctx?.at;
        return ingestTransaction(
          {
            repo,
            validator,
            log,
            ...(at ? { now: () => at } : {}),
            ...(ctx?.client !== undefined ? { client: ctx.client } : {}),
            ...(bytes !== undefined ? { received: bytes } : {}),
            ...(checked ? { offload: async () => checked } : offload ? { offload: (now: Date) => offload(bytes !== undefined ? { bytes } : { resource: bundle }, now) } : {}),
          },
          bundle,
        );
      },
    },
  };
}

const SEJOUR_PROFILE = `${TDDUI_CANONICAL}/StructureDefinition/tddui-encounter-sejour`;
const CDL_NOTE_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference';

function periodOf(r: FhirResource | undefined): { start?: string; end?: string } {
  const p = r && isObject(r.period) ? r.period : {};
  return { ...(typeof p.start === 'string' ? { start: p.start } : {}), ...(typeof p.end === 'string' ? { end: p.end } : {}) };
}

/**
 * The events of TDDUI data (NdE, JDV J46): a séjour that starts (`ADM`: its Encounter gets a
 * `period.start`) or ends (`SOR`: it gets a `period.end`) — a first export of a séjour already
 * over says both —, and a new document (`DOC`: a DocumentReference created, or whose document
 * changed: v1 flow 3), but not a note of the liaison notebook (CdL's `NOT`). A new version of the
 * projet personnalisé (`pp-new-version`) is the ingestion plan's, since it spans the plan's
 * changes (`pp-events.ts`, D-127).
 */
export function tdduiEvents(change: WrittenChange): EventDeclaration[] {
  const r = change.resource;
  if (!r) return [];
  const out: EventDeclaration[] = [];
  if (change.resourceType === 'Encounter' && declaresProfile(r, SEJOUR_PROFILE)) {
    const now = periodOf(r);
    const before = periodOf(change.previous);
    const patient = patientOf(r.subject);
    if (now.start && !before.start) out.push(declare('admission', change, patient, TDDUI_PACKAGE, { start: now.start }));
    if (now.end && !before.end) out.push(declare('sortie', change, patient, TDDUI_PACKAGE, { end: now.end }));
  }
  if (change.resourceType === 'DocumentReference' && !declaresProfile(r, CDL_NOTE_PROFILE)) {
    const changed = change.outcome === 'created' || !change.previous || !sameJson(change.previous.content, r.content);
    const title = Array.isArray(r.content) && isObject(r.content[0]) && isObject(r.content[0].attachment) ? r.content[0].attachment.title : undefined;
    if (changed) out.push(declare('document', change, patientOf(r.subject), TDDUI_PACKAGE, typeof title === 'string' ? { title } : undefined));
  }
  return out;
}

