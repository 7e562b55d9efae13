// GET /fhir/metadata: what this server really serves, derived from the same model the routes
// use (src/rest/served.ts: the loaded IGs' server CapabilityStatements and the IG modules),
// and the search parameters really indexed (the repository's SearchParameterSet). An
// `instance` statement with rest.mode `server`, instantiating the statements it implements.
import type { FhirResource } from '../fhir/json.js';
import type { CanonicalResource, ConformanceRegistry } from '../fhir/packages/registry.js';
import type { SearchParameterSet } from '../fhir/search/parameters.js';
import type { Served } from '../rest/served.js';
import type { ComputedType, ModuleOperation } from '../rest/modules.js';

export const TDDUI_CONSOMMATEUR = 'https://interop.esante.gouv.fr/ig/fhir/tddui/CapabilityStatement/TDDUIConsommateur';
export const VALIDATE_OPERATION = 'http://hl7.org/fhir/OperationDefinition/Resource-validate';
/** The FHIR Bulk Data Access IG's definitions (server/bulk-export.ts implements them). */
export const BULK_DATA_SERVER = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';
export const BULK_SYSTEM_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export';
export const BULK_PATIENT_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export';
export const BULK_GROUP_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export';

export interface CapabilityInput {
  registry: ConformanceRegistry;
  served: Served;
  params: SearchParameterSet;
  /** Base URL of the FHIR API (`http://host/fhir`). */
  baseUrl: string;
  softwareVersion: string;
  date: string;
  xml: boolean;
  /** The API requires OAuth 2.0 bearer tokens (rest.security.service OAuth). */
  oauth?: boolean;
  /** IG modules that process their own transaction Bundles. */
  transactionModules: string[];
  /** Types computed by a module (GAP Slots): their own interactions, parameters and includes. */
  computed?: (type: string) => ComputedType | undefined;
  /** Operations the modules serve, by type. */
  operations?: ModuleOperation[];
}

const BASE_SP = 'http://hl7.org/fhir/SearchParameter/';
const INTERACTION_ORDER = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

export function buildCapabilityStatement(input: CapabilityInput): FhirResource {
  const { served, params } = input;
  const tddui = input.registry.resolve<FhirResource & { rest?: { security?: unknown }[]; jurisdiction?: unknown; version?: string }>(TDDUI_CONSOMMATEUR, 'CapabilityStatement');
  const types = [...served.types.values()].sort((a, b) => (a.type < b.type ? -1 : 1));
  const resource = types.map((t) => {
    const sp = params.of(t.type);
    const spNames = new Set(sp.map((p) => p.name));
    const searchParam = [
      { name: '_id', definition: `${BASE_SP}Resource-id`, type: 'token' },
      { name: '_lastUpdated', definition: `${BASE_SP}Resource-lastUpdated`, type: 'date' },
      ...sp.map((p) => ({ name: p.name, ...(p.url ? { definition: p.url } : {}), type: p.type })),
    ];
    // searchInclude: reference parameters of this type; searchRevInclude: those of other types pointing here.
    const includes = sp.filter((p) => p.type === 'reference').map((p) => `${t.type}:${p.name}`);
    const revIncludes: string[] = [];
    for (const other of types) {
      for (const p of params.referencesOf(other.type)) {
        const targets = p.resolveIs ?? p.targets;
        if (!targets || targets.includes(t.type)) revIncludes.push(`${other.type}:${p.name}`);
      }
    }
    const has = (c: string) => t.interactions.has(c as never);
    const out: Record<string, unknown> = { type: t.type };
    out.profile = `http://hl7.org/fhir/StructureDefinition/${t.type}`;
    const supported = [...new Set([...t.profiles.map((p) => p.profile), ...t.supportedProfiles])];
    if (supported.length) out.supportedProfile = supported;
    const docs = [...t.documentation];
    if (t.igs.length) docs.unshift(`Servi pour : ${t.igs.join(', ')}.`);
    if (has('create') && t.type === 'DocumentReference' && t.igs.includes('ans.fhir.fr.tddui')) {
      docs.push('Flux 1 et 3 de TDDUI v1 : ajout d\u2019un document (CDA dans content.attachment.data), mise à jour partielle (PATCH) limitée à content ; validés avant enregistrement.');
    }
    if (docs.length) out.documentation = docs.join('\n\n');
    out.interaction = INTERACTION_ORDER.filter(has).map((code) => ({ code }));
    out.versioning = 'versioned-update';
    out.readHistory = true;
    out.updateCreate = has('update') && t.updateCreate;
    out.conditionalCreate = has('create');
    out.conditionalRead = 'modified-since';
    out.conditionalUpdate = has('update');
    out.conditionalDelete = has('delete') ? 'single' : 'not-supported';
    out.referencePolicy = ['literal', 'logical', 'local'];
    if (includes.length) out.searchInclude = [...includes, '*'];
    if (revIncludes.length) out.searchRevInclude = revIncludes;
    out.searchParam = searchParam.filter((p, i, all) => all.findIndex((q) => q.name === p.name) === i && (p.name.startsWith('_') || spNames.has(p.name)));
    out.operation = [{ name: 'validate', definition: VALIDATE_OPERATION }, ...(input.operations ?? []).filter((o) => o.type === t.type).map((o) => ({ name: o.name, definition: `urn:tddui:operation:${o.name}`, documentation: o.documentation }))];
    const computed = input.computed?.(t.type)?.capability;
    if (computed) {
      // Computed, never stored: read and search only, no history, no conditional interactions.
      out.interaction = [{ code: 'read' }, { code: 'search-type' }];
      out.readHistory = false;
      out.updateCreate = false;
      out.conditionalCreate = false;
      out.conditionalUpdate = false;
      out.conditionalDelete = 'not-supported';
      delete out.conditionalRead;
      out.searchParam = computed.searchParams;
      out.searchInclude = computed.searchInclude;
      delete out.searchRevInclude;
      out.documentation = [out.documentation, computed.documentation].filter(Boolean).join('\n\n');
    }
    return out;
  });

  // The submitted Bundles (the submission log), read-only.
  resource.push({
    type: 'Bundle',
    profile: 'http://hl7.org/fhir/StructureDefinition/Bundle',
    documentation:
      'Bundles reçus (journal des envois, acceptés ou rejetés ; un rejeté n\u2019est pas forcément conforme à tddui-bundle) : lecture seule, id = identifiant de l\u2019envoi, meta.lastUpdated = réception, étiquette urn:tddui:submission-outcome (accepted / rejected). Recherche du plus récent au plus ancien, sans total.',
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    versioning: 'versioned',
    readHistory: false,
    updateCreate: false,
    conditionalCreate: false,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchParam: [
      {
        name: '_lastUpdated',
        definition: `${BASE_SP}Resource-lastUpdated`,
        type: 'date',
        documentation: 'Instant de réception ; préfixes eq, ge, gt, le, lt ; répéter le paramètre pour un intervalle.',
      },
    ],
  });

  // Bulk Data export at Patient (and Group) level (server/bulk-export.ts).
  for (const r of resource) {
    if (r.type === 'Patient') r.operation = [...((r.operation as unknown[]) ?? []), { name: 'export', definition: BULK_PATIENT_EXPORT, documentation: 'Export en masse (FHIR Bulk Data) des usagers et de ce qui les concerne : Prefer: respond-async, fichiers NDJSON par type.' }];
    if (r.type === 'Group') r.operation = [...((r.operation as unknown[]) ?? []), { name: 'export', definition: BULK_GROUP_EXPORT }];
  }
  // The audit trail (server/audit-event.ts): read and search, for tokens whose scope names AuditEvent.
  resource.push({
    type: 'AuditEvent',
    profile: 'http://hl7.org/fhir/StructureDefinition/AuditEvent',
    documentation:
      'Journal des accès aux données de santé (lectures, recherches, écritures, exports, refus), formes IHE BALP : lecture et recherche seules, avec une portée qui nomme AuditEvent (system/AuditEvent.read ; une portée * ne suffit pas).',
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    versioning: 'no-version',
    readHistory: false,
    updateCreate: false,
    conditionalCreate: false,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchParam: [
      ...(['date', 'agent', 'patient', 'entity', 'entity-type', 'action', 'subtype', 'outcome', 'address'] as const).map((name) => ({
        name,
        definition: `${BASE_SP}AuditEvent-${name}`,
        type: name === 'date' ? 'date' : name === 'agent' || name === 'patient' || name === 'entity' ? 'reference' : name === 'address' ? 'string' : 'token',
      })),
    ],
  });

  const igs = [...new Set([...served.statements.map((s) => s.ig), ...types.flatMap((t) => t.igs)])];
  const cs: Record<string, unknown> = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    experimental: false,
    date: input.date,
    publisher: 'tddui (logiciel libre, Apache-2.0)',
    name: 'TdduiReceivingServer',
    title: 'Serveur FHIR TDDUI et coordination',
    description: `Serveur FHIR R4 : types, interactions, profils et paramètres de recherche dérivés des guides chargés (${igs.join(', ') || 'aucun'}). Toute écriture est validée puis enregistrée de façon atomique et versionnée ; suppression = version tombstone (historique conservé, lecture 410).`,
  };
  if (tddui?.jurisdiction) cs.jurisdiction = tddui.jurisdiction;
  cs.kind = 'instance';
  const instantiates = [
    ...(tddui ? [TDDUI_CONSOMMATEUR + (tddui.version ? `|${tddui.version}` : '')] : []),
    ...served.statements.map((s) => s.url + (s.version ? `|${s.version}` : '')),
    BULK_DATA_SERVER,
  ];
  if (instantiates.length) cs.instantiates = instantiates;
  cs.software = { name: 'tddui', version: input.softwareVersion };
  cs.implementation = { description: 'Serveur FHIR TDDUI', url: input.baseUrl };
  cs.fhirVersion = '4.0.1';
  cs.format = input.xml ? ['application/fhir+json', 'application/fhir+xml'] : ['application/fhir+json'];
  cs.patchFormat = input.xml
    ? ['application/json-patch+json', 'application/fhir+json', 'application/fhir+xml']
    : ['application/json-patch+json', 'application/fhir+json'];
  const guides = input.registry.packages
    .filter((p) => igs.includes(p.name) && p.canonical)
    .map((p) => {
      const ig = input.registry.all<CanonicalResource>('ImplementationGuide').find((g) => g.url?.startsWith(p.canonical! + '/'));
      return ig?.url ?? p.canonical!;
    });
  if (guides.length) cs.implementationGuide = guides;
  const rest: Record<string, unknown> = {
    mode: 'server',
    documentation: 'Réception, validation et partage de données FHIR selon les guides chargés ; recherche selon leurs SearchParameter.',
  };
  const igRest = tddui?.rest?.[0];
  if (igRest?.security) rest.security = igRest.security;
  if (input.oauth) {
    const security: Record<string, unknown> = { cors: false, ...(typeof rest.security === 'object' && rest.security !== null ? (rest.security as Record<string, unknown>) : {}) };
    security.service = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth', display: 'OAuth' }], text: 'OAuth 2.0 (jetons porteurs JWT)' }];
    const igText = typeof security.description === 'string' ? `${security.description}\n\n` : '';
    security.description = `${igText}Ce serveur exige un jeton OAuth 2.0 (Authorization: Bearer) : portées system/<Type>.read pour lire, system/<Type>.write pour envoyer ; un envoi n'est accepté que pour un FINESS nommé par le jeton.`;
    rest.security = security;
  }
  rest.resource = resource;
  const modules = input.transactionModules.length ? ` Bundles propres à un guide (${input.transactionModules.join(', ')}) : traités selon ce guide (TDDUI : entrées POST seules, un renvoi crée une nouvelle version des mêmes objets métier).` : '';
  rest.interaction = [
    {
      code: 'transaction',
      documentation: `Bundle transaction : toutes les entrées (POST, PUT, PATCH, DELETE, conditionnelles, références conditionnelles) validées puis enregistrées en une seule transaction de base de données, ou aucune.${modules}`,
    },
    { code: 'batch', documentation: 'Bundle batch : chaque entrée traitée seule, avec son propre statut.' },
    { code: 'history-system' },
  ];
  rest.operation = [
    { name: 'validate', definition: VALIDATE_OPERATION, documentation: 'Validation selon les guides chargés (profils et règles métier) ; rien n\u2019est enregistré.' },
    {
      name: 'export',
      definition: BULK_SYSTEM_EXPORT,
      documentation: 'Export en masse (FHIR Bulk Data, asynchrone) : Prefer: respond-async, 202 et Content-Location, suivi avec X-Progress, fichiers NDJSON par type ; _type, _since, _typeFilter ; DELETE annule la tâche.',
    },
  ];
  cs.rest = [rest];
  return cs as FhirResource;
}
