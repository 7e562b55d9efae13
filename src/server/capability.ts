// GET /fhir/metadata: what this server really does, written on top of the IG's
// TDDUIConsommateur CapabilityStatement (kind `requirements`, rest.mode `client`) as an
// `instance` statement with rest.mode `server`.
import type { TdduiValidator } from '../tddui/validator.js';
import type { FhirResource } from '../storage/types.js';

export const TDDUI_CONSOMMATEUR = 'https://interop.esante.gouv.fr/ig/fhir/tddui/CapabilityStatement/TDDUIConsommateur';
export const TDDUI_IG = 'https://interop.esante.gouv.fr/ig/fhir/tddui';
export const VALIDATE_OPERATION = 'http://hl7.org/fhir/OperationDefinition/Resource-validate';

/** The resource types of TDDUIConsommateur, used when the IG package is not loaded. */
export const CONSOMMATEUR_TYPES = [
  'Patient', 'Organization', 'Encounter', 'Practitioner', 'PractitionerRole', 'Task', 'QuestionnaireResponse',
  'DocumentReference', 'CarePlan', 'Consent', 'Goal', 'ServiceRequest', 'RelatedPerson',
];

export interface SearchParamInfo {
  name: string;
  /** FHIR search parameter type: token, string, date, reference, … */
  type: string;
  /** Canonical URL of the SearchParameter. */
  definition?: string;
  documentation?: string;
  /** For references: the resource types it may point to. */
  targets?: string[];
}

export interface CapabilityInput {
  validator: TdduiValidator;
  /** Resource types served (read, vread, history, search). */
  types: string[];
  /** Search parameters per resource type (beyond the common `_id`, `_lastUpdated`). */
  searchParams: Record<string, SearchParamInfo[]>;
  /** Common parameters valid on every type. */
  commonParams: SearchParamInfo[];
  /** Base URL of the FHIR API (`http://host/fhir`). */
  baseUrl: string;
  softwareVersion: string;
  date: string;
  xml: boolean;
  /** The API requires OAuth 2.0 bearer tokens (rest.security.service OAuth). */
  oauth?: boolean;
}

interface ReqResource {
  type: string;
  supportedProfile?: string[];
  profile?: string;
  documentation?: string;
}

export function buildCapabilityStatement(input: CapabilityInput): FhirResource {
  const ig = input.validator.engine.registry.resolve<FhirResource & { rest?: { resource?: ReqResource[]; security?: unknown; interaction?: { code: string; documentation?: string }[] }[]; jurisdiction?: unknown }>(
    TDDUI_CONSOMMATEUR,
    'CapabilityStatement',
  );
  const igRest = ig?.rest?.[0];
  const igResources = new Map((igRest?.resource ?? []).map((r) => [r.type, r]));
  const bundleProfile = igRest?.interaction?.find((i) => i.code === 'transaction')?.documentation;

  const resource = input.types.map((type) => {
    const req = igResources.get(type);
    const params = [...input.commonParams, ...(input.searchParams[type] ?? [])];
    // searchInclude: reference parameters of this type; searchRevInclude: those of other types pointing here.
    const includes = params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.name}`);
    const revIncludes: string[] = [];
    for (const other of input.types) {
      for (const p of input.searchParams[other] ?? []) {
        if (p.type === 'reference' && (!p.targets || p.targets.includes(type))) revIncludes.push(`${other}:${p.name}`);
      }
    }
    const interaction: { code: string; documentation?: string }[] = [
      { code: 'read' },
      { code: 'vread' },
      { code: 'history-instance' },
      { code: 'history-type' },
      { code: 'search-type' },
    ];
    if (type === 'DocumentReference') {
      interaction.push(
        { code: 'create', documentation: 'Flux 1 de TDDUI v1 : ajout d\u2019un document (CDA dans content.attachment.data), validé avant enregistrement.' },
        { code: 'patch', documentation: 'Flux 3 de TDDUI v1 : mise à jour partielle par JSON Patch (application/json-patch+json) ou FHIRPath Patch (Parameters) ; le résultat est validé ; If-Match pris en charge.' },
      );
    }
    const out: Record<string, unknown> = { type };
    out.profile = `http://hl7.org/fhir/StructureDefinition/${type}`;
    if (req?.supportedProfile?.length) out.supportedProfile = req.supportedProfile;
    out.interaction = interaction;
    out.versioning = 'versioned';
    out.readHistory = true;
    out.updateCreate = false;
    out.conditionalCreate = false;
    out.conditionalRead = 'not-supported';
    out.conditionalUpdate = false;
    out.conditionalDelete = 'not-supported';
    if (includes.length) out.searchInclude = [...includes, '*'];
    if (revIncludes.length) out.searchRevInclude = revIncludes;
    out.searchParam = params.map((p) => {
      const sp: Record<string, unknown> = { name: p.name };
      if (p.definition) sp.definition = p.definition;
      sp.type = p.type;
      if (p.documentation) sp.documentation = p.documentation;
      return sp;
    });
    out.operation = [{ name: 'validate', definition: VALIDATE_OPERATION }];
    return out;
  });

  // The submitted Bundles (the submission log), read-only.
  const lastUpdated = input.commonParams.find((p) => p.name === '_lastUpdated');
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
        ...(lastUpdated?.definition ? { definition: lastUpdated.definition } : {}),
        type: 'date',
        documentation: 'Instant de réception ; préfixes eq, ge, gt, le, lt ; répéter le paramètre pour un intervalle.',
      },
    ],
  });

  const cs: Record<string, unknown> = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    experimental: false,
    date: input.date,
    publisher: 'tddui (logiciel libre, Apache-2.0)',
    name: 'TdduiReceivingServer',
    title: 'Serveur de réception TDDUI (Consommateur)',
    description:
      'Serveur de réception des données transmises par les logiciels DUI (flux 1 de TDDUI) : transaction validée en entier puis enregistrée de façon atomique, renvoi = nouvelle version du même objet métier, lecture, historique, recherche, $validate ; flux v1 (DocumentReference : création et PATCH).',
  };
  if (ig?.jurisdiction) cs.jurisdiction = ig.jurisdiction;
  cs.kind = 'instance';
  if (ig) cs.instantiates = [TDDUI_CONSOMMATEUR + (ig.version ? `|${ig.version}` : '')];
  cs.software = { name: 'tddui', version: input.softwareVersion };
  cs.implementation = { description: 'Serveur de réception TDDUI', url: input.baseUrl };
  cs.fhirVersion = '4.0.1';
  cs.format = input.xml ? ['application/fhir+json', 'application/fhir+xml'] : ['application/fhir+json'];
  cs.patchFormat = input.xml
    ? ['application/json-patch+json', 'application/fhir+json', 'application/fhir+xml']
    : ['application/json-patch+json', 'application/fhir+json'];
  cs.implementationGuide = [TDDUI_IG];
  const rest: Record<string, unknown> = {
    mode: 'server',
    documentation: 'Réception de données transmises depuis un logiciel DUI (flux 1), exposées en lecture et recherche au SI tiers.',
  };
  if (igRest?.security) rest.security = igRest.security;
  if (input.oauth) {
    const security: Record<string, unknown> = { cors: false, ...(typeof rest.security === 'object' && rest.security !== null ? (rest.security as Record<string, unknown>) : {}) };
    security.service = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth', display: 'OAuth' }], text: 'OAuth 2.0 (jetons porteurs JWT)' }];
    const igText = typeof security.description === 'string' ? `${security.description}\n\n` : '';
    security.description = `${igText}Ce serveur exige un jeton OAuth 2.0 (Authorization: Bearer) : portées system/<Type>.read pour lire, system/<Type>.write pour envoyer ; un envoi n'est accepté que pour un FINESS nommé par le jeton.`;
    rest.security = security;
  }
  rest.resource = resource;
  rest.interaction = [
    {
      code: 'transaction',
      documentation: `Bundle de type transaction conforme à ${bundleProfile ?? TDDUI_IG + '/StructureDefinition/tddui-bundle'} : validé en entier (erreurs : 422, rien n'est enregistré), puis enregistré en une seule transaction de base de données ; un renvoi crée une nouvelle version des mêmes objets métier.`,
    },
    { code: 'history-system' },
  ];
  rest.operation = [{ name: 'validate', definition: VALIDATE_OPERATION, documentation: 'Validation selon le guide TDDUI (profils et règles métier) ; rien n\u2019est enregistré.' }];
  cs.rest = [rest];
  return cs as FhirResource;
}
