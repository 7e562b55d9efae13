// The catalogue of the server's own rejections (HTTP layer, storage, transactions): one stable id
// per kind of error with its HTTP status, FHIR issue type and English and French messages, in
// the style of the validation rule catalogue (codes.ts) and of Fastify's FST_ERR_* codes.
// Code throws `new FhirError(HTTP_ERRORS.X, args)`; handlers match `instanceof FhirError`.
// docs/rules.md lists them (`npm run docs:rules`).
import type { FhirResource } from '../json.js';
import { operationOutcome } from './outcome.js';
import { messagesOf, type MessageArgs } from './rule.js';

export interface HttpErrorDef {
  readonly id: string;
  readonly status: number;
  /** FHIR issue type. */
  readonly code: string;
  readonly summary: string;
  readonly en: string;
  readonly fr: string;
}

function def(d: HttpErrorDef): HttpErrorDef {
  return Object.freeze(d);
}

export const HTTP_ERRORS = {
  // --- request shape --------------------------------------------------------------------
  BODY_EMPTY: def({ id: 'http-body-empty', status: 400, code: 'structure', summary: 'The request has no body where one is needed.', en: 'The request body is empty (expected {what})', fr: 'Le corps de la requête est vide (attendu : {whatFr})' }),
  BODY_NOT_JSON: def({ id: 'http-body-not-json', status: 400, code: 'structure', summary: 'The body is not well-formed JSON.', en: 'The request body is not valid JSON: {detail}', fr: 'Le corps de la requête n\u2019est pas du JSON valide : {detailFr}' }),
  BODY_NOT_XML: def({ id: 'http-body-not-xml', status: 400, code: 'structure', summary: 'The body is not readable FHIR XML.', en: 'The request body is not a readable FHIR XML resource: {detail}', fr: 'Le corps de la requête n\u2019est pas une ressource FHIR XML lisible : {detailFr}' }),
  BODY_NOT_RESOURCE: def({ id: 'http-body-not-resource', status: 400, code: 'structure', summary: 'The body is not a FHIR resource.', en: 'The body is not a FHIR resource (a JSON object with a resourceType)', fr: 'Le corps n\u2019est pas une ressource FHIR (objet JSON avec resourceType)' }),
  BODY_MISSING: def({ id: 'http-body-missing', status: 400, code: 'structure', summary: 'A write without a body.', en: 'The request has no body (expected a FHIR resource in application/fhir+json or application/fhir+xml)', fr: 'La requête n\u2019a pas de corps (ressource FHIR attendue en application/fhir+json ou application/fhir+xml)' }),
  BODY_MEDIA_TYPE: def({ id: 'http-body-media-type', status: 415, code: 'not-supported', summary: 'The body is not sent as a FHIR resource.', en: 'Expected a FHIR resource in application/fhir+json or application/fhir+xml', fr: 'Ressource FHIR attendue en application/fhir+json ou application/fhir+xml' }),
  CONTENT_TYPE: def({ id: 'http-content-type', status: 415, code: 'not-supported', summary: 'Unsupported Content-Type.', en: 'Unsupported Content-Type: {type}; use application/fhir+json or application/fhir+xml', fr: 'Type de contenu (Content-Type) non pris en charge : {type} ; utiliser application/fhir+json ou application/fhir+xml' }),
  BODY_TOO_LARGE: def({ id: 'http-body-too-large', status: 413, code: 'too-costly', summary: 'The body exceeds the size limit.', en: 'The request body is too large', fr: 'Le corps de la requête est trop volumineux' }),
  BODY_LENGTH: def({ id: 'http-body-length', status: 400, code: 'structure', summary: 'Content-Length does not match the body.', en: 'Content-Length does not match the body', fr: 'Content-Length ne correspond pas au corps' }),
  BODY_TYPE_MISMATCH: def({ id: 'http-body-type-mismatch', status: 400, code: 'invalid', summary: 'The body\u2019s resourceType is not the type of the URL.', en: 'The body is a {found}, not a {type}', fr: 'Le corps de la requête est de type {found} et non {type}' }),
  BODY_ID_MISMATCH: def({ id: 'http-body-id-mismatch', status: 400, code: 'invalid', summary: 'An update whose body id is not the id of the URL.', en: 'The body\u2019s id "{found}" is not the id of the URL ({id})', fr: 'L\u2019id du corps « {found} » n\u2019est pas celui de l\u2019URL ({id})' }),
  BODY_ID_MISSING: def({ id: 'http-body-id-missing', status: 400, code: 'required', summary: 'An update (PUT) whose body has no id.', en: 'An update must carry the resource id ({id}) in its body', fr: 'Une mise à jour doit porter l\u2019id de la ressource ({id}) dans son corps' }),
  INVALID_ID: def({ id: 'http-invalid-id', status: 400, code: 'invalid', summary: 'A resource id outside the FHIR id syntax.', en: 'Invalid resource id "{id}"', fr: 'Identifiant de ressource invalide « {id} »' }),
  NOT_A_RESOURCE: def({ id: 'http-not-a-resource', status: 400, code: 'invalid', summary: 'A write of something that is not a resource.', en: 'Not a FHIR resource (resourceType missing or invalid)', fr: 'Pas une ressource FHIR (resourceType absent ou invalide)' }),
  FORMAT: def({ id: 'http-format', status: 406, code: 'not-supported', summary: '_format names a format the server does not produce.', en: '_format={format} is not supported (use json or xml)', fr: '_format={format} n\u2019est pas pris en charge (json ou xml)' }),
  ACCEPT: def({ id: 'http-accept', status: 406, code: 'not-supported', summary: 'No media type of Accept is produced.', en: 'None of the media types in Accept is supported: {accept}', fr: 'Aucun des formats demandés (Accept) n\u2019est pris en charge : {accept}' }),
  IF_MATCH_SYNTAX: def({ id: 'http-if-match-syntax', status: 400, code: 'invalid', summary: 'If-Match is not a version ETag.', en: 'If-Match must be a version ETag such as W/"3" (got {header})', fr: 'If-Match doit être un ETag de version tel que W/"3" (reçu {header})' }),
  PREFER_HANDLING: def({ id: 'http-prefer-handling', status: 400, code: 'invalid', summary: 'Prefer: handling= takes strict or lenient.', en: 'Prefer: handling={value} is not supported (strict or lenient)', fr: 'Prefer: handling={value} n\u2019est pas pris en charge (strict ou lenient)' }),

  // --- routing --------------------------------------------------------------------------
  NOT_FOUND_PATH: def({ id: 'http-not-found-path', status: 404, code: 'not-found', summary: 'No endpoint at this path.', en: 'Not found: {method} {path}', fr: 'Introuvable : {method} {path}' }),
  UNKNOWN_ENDPOINT: def({ id: 'http-unknown-endpoint', status: 404, code: 'not-found', summary: 'No FHIR endpoint at this path.', en: 'Unknown FHIR endpoint: {method} {path}', fr: 'Point d\u2019accès FHIR inconnu : {method} {path}' }),
  METHOD_NOT_ALLOWED: def({ id: 'http-method-not-allowed', status: 405, code: 'not-supported', summary: 'The endpoint exists, not for this method.', en: '{method} is not allowed on {path} (allowed: {allowed})', fr: 'La méthode {method} n\u2019est pas permise sur {path} (permises : {allowed})' }),
  INTERACTION_NOT_SERVED: def({ id: 'http-interaction-not-served', status: 405, code: 'not-supported', summary: 'The loaded IGs do not offer this interaction on this type.', en: '{interaction} is not offered on {type} by the loaded implementation guides (see /fhir/metadata)', fr: 'L\u2019interaction {interaction} n\u2019est pas offerte sur {type} par les guides d\u2019implémentation chargés (voir /fhir/metadata)' }),
  TYPE_NOT_SERVED: def({ id: 'http-type-not-served', status: 404, code: 'not-supported', summary: 'A FHIR resource type that no loaded IG serves.', en: 'Resource type {type} is not served by this server (see /fhir/metadata)', fr: 'Le type de ressource {type} n\u2019est pas servi par ce serveur (voir /fhir/metadata)' }),
  UNKNOWN_TYPE: def({ id: 'http-unknown-type', status: 404, code: 'not-found', summary: 'Not a FHIR R4 resource type.', en: 'Unknown resource type: {type}', fr: 'Type de ressource inconnu : {type}' }),
  BAD_ID_IN_PATH: def({ id: 'http-bad-id-in-path', status: 404, code: 'not-found', summary: 'A path segment that is not a FHIR id.', en: '{type}/{id} does not exist (not a valid FHIR id)', fr: '{type}/{id} n\u2019existe pas (identifiant FHIR invalide)' }),
  BUNDLE_READ_ONLY: def({ id: 'http-bundle-read-only', status: 404, code: 'not-supported', summary: 'Submitted Bundles offer read and search only.', en: '{method} {path}: submitted Bundles support only read (GET /fhir/Bundle/{id}) and search (GET /fhir/Bundle)', fr: '{method} {path} : les Bundles reçus ne permettent que la lecture (GET /fhir/Bundle/{id}) et la recherche (GET /fhir/Bundle)' }),
  SUBMISSION_NOT_BUNDLE: def({ id: 'http-submission-not-bundle', status: 404, code: 'not-found', summary: 'A submitted Bundle that is unknown or not a Bundle.', en: 'Bundle/{id} does not exist{detail}', fr: 'Bundle/{id} n\u2019existe pas{detailFr}' }),

  // --- resources and versions -----------------------------------------------------------
  NOT_FOUND: def({ id: 'http-not-found', status: 404, code: 'not-found', summary: 'No resource with this type and id.', en: '{type}/{id} is not known', fr: '{type}/{id} est inconnu' }),
  VERSION_NOT_FOUND: def({ id: 'http-version-not-found', status: 404, code: 'not-found', summary: 'No such version of the resource.', en: '{type}/{id}/_history/{version} is not known', fr: '{type}/{id}/_history/{version} est inconnu' }),
  GONE: def({ id: 'http-gone', status: 410, code: 'deleted', summary: 'The resource was deleted (its history stays readable).', en: '{type}/{id} has been deleted', fr: '{type}/{id} a été supprimé' }),
  VERSION_CONFLICT: def({ id: 'http-version-conflict', status: 412, code: 'conflict', summary: 'If-Match names another version than the current one.', en: 'Version mismatch on {type}/{id}: If-Match asks for version {expected}, the current version is {current}', fr: 'Conflit de version sur {type}/{id} : If-Match demande la version {expected}, la version courante est {current}' }),
  PPA_VALIDATED_FROZEN: def({ id: 'http-ppa-validated-frozen', status: 412, code: 'conflict', summary: 'A change of a validated projet personnalisé (CarePlan with the usager\u2019s accord) that does not name the validated version by If-Match (D-150).', en: 'The projet personnalisé {identifier} (CarePlan/{id}) is validated: its version {version} carries the usager\u2019s accord of {accord} and is frozen. To change it, name that version (If-Match: W/"{version}", in a Bundle entry.request.ifMatch) so that the change becomes a new version knowingly, send it with a new accord of the usager, or send a new CarePlan that replaces it (CarePlan.replaces); closing it (status completed, revoked or entered-in-error) needs none of these', fr: 'Le projet personnalisé {identifier} (CarePlan/{id}) est validé : sa version {version} porte l\u2019accord de l\u2019usager du {accord} et elle est figée. Pour le modifier, désigner cette version (If-Match: W/"{version}", dans un Bundle entry.request.ifMatch) afin que la modification en devienne sciemment une nouvelle version, l\u2019envoyer avec un nouvel accord de l\u2019usager, ou envoyer un nouveau CarePlan qui le remplace (CarePlan.replaces) ; le clore (statut completed, revoked ou entered-in-error) ne demande rien de cela' }),
  IF_MATCH_ON_CREATE: def({ id: 'http-if-match-unknown', status: 412, code: 'conflict', summary: 'If-Match on a resource that does not exist.', en: 'If-Match W/"{expected}" but {type}/{id} does not exist', fr: 'If-Match W/"{expected}" alors que {type}/{id} n\u2019existe pas' }),
  CREATE_ON_UPDATE: def({ id: 'http-update-create-refused', status: 405, code: 'not-supported', summary: 'PUT of an unknown id where the IG does not allow create-on-update.', en: '{type}/{id} does not exist and this server does not create {type} on update (use POST)', fr: '{type}/{id} n\u2019existe pas et ce serveur ne crée pas de {type} par mise à jour (utiliser POST)' }),
  CONDITIONAL_MULTIPLE: def({ id: 'http-conditional-multiple', status: 412, code: 'multiple-matches', summary: 'Conditional create, update, delete or patch whose criteria match several resources.', en: 'The criteria {criteria} match {count} {type} resources: the {interaction} needs at most one', fr: 'Les critères {criteria} désignent {count} ressources {type} : {interaction} en demande au plus une' }),
  CONDITIONAL_NO_MATCH: def({ id: 'http-conditional-no-match', status: 404, code: 'not-found', summary: 'Conditional patch (or reference) whose criteria match nothing.', en: 'The criteria {criteria} match no {type}', fr: 'Les critères {criteria} ne désignent aucune ressource {type}' }),
  CONDITIONAL_ID_MISMATCH: def({ id: 'http-conditional-id-mismatch', status: 409, code: 'conflict', summary: 'Conditional update whose body id is not the id of the match.', en: 'The body\u2019s id "{found}" is not the id of the resource the criteria match ({id})', fr: 'L\u2019id du corps « {found} » n\u2019est pas celui de la ressource désignée par les critères ({id})' }),
  CONDITIONAL_CRITERIA: def({ id: 'http-conditional-criteria', status: 400, code: 'invalid', summary: 'Conditional criteria that are empty or unreadable.', en: 'Invalid conditional criteria "{criteria}": {detail}', fr: 'Critères conditionnels invalides « {criteria} » : {detailFr}' }),
  CONFLICT_RETRY: def({ id: 'http-conflict-retry', status: 409, code: 'conflict', summary: 'Concurrent writes of the same objects kept conflicting.', en: 'Concurrent writes of the same resources kept conflicting; send the request again', fr: 'Des écritures concurrentes des mêmes ressources sont restées en conflit ; renvoyez la requête' }),
  VALIDATION_FAILED: def({ id: 'http-validation-failed', status: 422, code: 'processing', summary: 'The resource does not conform to the profile the IG requires (the OperationOutcome lists why).', en: 'The {type} does not conform to {profile}', fr: 'La ressource {type} n\u2019est pas conforme à {profile}' }),
  PROFILE_NOT_LOADED: def({ id: 'http-profile-not-loaded', status: 422, code: 'not-supported', summary: 'A written resource declares (meta.profile) a profile that no loaded IG defines: it cannot be checked, so it is not stored.', en: 'The {type} declares {profile}, which none of the implementation guides this server loaded defines ({loaded}): it cannot be checked against it, so it is not stored', fr: 'La ressource {type} déclare {profile}, qu\u2019aucun des guides d\u2019implémentation chargés par ce serveur ne définit ({loaded}) : elle ne peut pas être vérifiée, elle n\u2019est donc pas enregistrée' }),
  PATCH_CHANGES_IDENTITY: def({ id: 'http-patch-identity', status: 422, code: 'processing', summary: 'A patch that changes the type or id.', en: 'A patch must not change the resource type or id', fr: 'Un patch ne doit modifier ni le type ni l\u2019identifiant (id) de la ressource' }),
  PATCH_BODY: def({ id: 'http-patch-body', status: 400, code: 'structure', summary: 'A PATCH body of the wrong shape.', en: 'A {kind} body must be {expected}', fr: 'Un corps {kind} doit être {expectedFr}' }),
  PATCH_MEDIA_TYPE: def({ id: 'http-patch-media-type', status: 415, code: 'not-supported', summary: 'PATCH in a format other than JSON Patch or FHIRPath Patch.', en: 'PATCH takes application/json-patch+json (JSON Patch) or a FHIRPath Patch Parameters resource', fr: 'PATCH attend application/json-patch+json (JSON Patch) ou une ressource Parameters (FHIRPath Patch)' }),
  PATCH_FAILED: def({ id: 'http-patch-failed', status: 422, code: 'processing', summary: 'A patch that cannot be applied.', en: 'Patch failed: {detail}', fr: 'Échec du patch : {detailFr}' }),
  XML_UNREADABLE: def({ id: 'http-xml-unreadable', status: 400, code: 'structure', summary: 'Unreadable FHIR XML.', en: 'Unreadable FHIR XML: {detail}', fr: 'XML FHIR illisible : {detailFr}' }),

  // --- Bundles --------------------------------------------------------------------------
  NOT_A_BUNDLE: def({ id: 'http-not-a-bundle', status: 400, code: 'invalid', summary: 'POST on the base URL of something other than a Bundle.', en: 'The request body is not a FHIR Bundle', fr: 'Le corps de la requête n\u2019est pas un Bundle FHIR' }),
  BUNDLE_TYPE: def({ id: 'http-bundle-type', status: 400, code: 'invalid', summary: 'A Bundle posted to the base URL must be a transaction or a batch.', en: 'Bundle.type must be {expected} (found {found})', fr: 'Bundle.type doit valoir {expected} (trouvé {found})' }),
  ENTRY_INVALID: def({ id: 'http-entry-invalid', status: 400, code: 'invalid', summary: 'A Bundle entry whose request cannot be processed.', en: 'Entry {index}: {detail}', fr: 'Entrée {index} : {detailFr}' }),
  ENTRY_POST_ONLY: def({ id: 'http-entry-post-only', status: 422, code: 'not-supported', summary: 'TDDUI transactions create only (flow 1): every entry a POST with a resource.', en: 'Entry {index}: only POST entries with a resource are supported (TDDUI transactions create only)', fr: 'Entrée {index} : seules les entrées POST avec une ressource sont acceptées (les transactions TDDUI ne font que créer)' }),
  ENTRY_DUPLICATE_TARGET: def({ id: 'http-entry-duplicate', status: 400, code: 'invalid', summary: 'Two entries of one transaction write the same resource.', en: 'Entries {first} and {second} both write {target}', fr: 'Les entrées {first} et {second} écrivent toutes deux {target}' }),
  REFERENCE_UNRESOLVED: def({ id: 'http-reference-unresolved', status: 400, code: 'not-found', summary: 'A conditional reference (Type?criteria) inside a transaction matches no resource or several.', en: 'The conditional reference {reference} matches {count} resources (exactly one is needed)', fr: 'La référence conditionnelle {reference} désigne {count} ressources (il en faut exactement une)' }),

  // --- search ---------------------------------------------------------------------------
  SEARCH_UNKNOWN_PARAM: def({ id: 'http-search-unknown-param', status: 400, code: 'not-supported', summary: 'A search parameter the server does not know for the type (strict handling).', en: 'Unknown search parameter "{name}"{where}', fr: 'Paramètre de recherche inconnu « {name} »{whereFr}' }),
  SEARCH_BAD_VALUE: def({ id: 'http-search-bad-value', status: 400, code: 'invalid', summary: 'A search value the parameter cannot take.', en: '{detail}', fr: '{detailFr}' }),
  SEARCH_BAD_MODIFIER: def({ id: 'http-search-bad-modifier', status: 400, code: 'invalid', summary: 'A modifier the parameter\u2019s type does not have.', en: 'Modifier ":{modifier}" is not supported on {kind} parameter "{name}"', fr: 'Le modificateur « :{modifier} » n\u2019est pas pris en charge sur le paramètre {kind} « {name} »' }),
  SEARCH_CHAIN: def({ id: 'http-search-chain', status: 400, code: 'invalid', summary: 'A chained or _has parameter that cannot be resolved.', en: 'Chained parameter "{name}": {detail}', fr: 'Paramètre chaîné « {name} » : {detailFr}' }),
  SEARCH_SORT: def({ id: 'http-search-sort', status: 400, code: 'not-supported', summary: '_sort on a parameter that is not indexed.', en: 'Unknown sort parameter "{name}"', fr: 'Paramètre de tri inconnu « {name} »' }),
  SEARCH_INCLUDE: def({ id: 'http-search-include', status: 400, code: 'not-supported', summary: '_include / _revinclude on a parameter that is not a reference.', en: 'Unknown reference search parameter "{name}"', fr: 'Paramètre de recherche de référence inconnu « {name} »' }),
  SEARCH_RESULT_PARAM: def({ id: 'http-search-result-param', status: 400, code: 'invalid', summary: 'A result parameter (_count, _include, _summary, _elements…) with a value it cannot take.', en: '{detail}', fr: '{detailFr}' }),
  SEARCH_NOT_SUPPORTED: def({ id: 'http-search-not-supported', status: 400, code: 'not-supported', summary: 'A search or history parameter this endpoint does not take.', en: 'The parameter {name} is not supported {where}', fr: 'Le paramètre {name} n\u2019est pas pris en charge {whereFr}' }),
  SEARCH_REQUIRED: def({ id: 'http-search-required', status: 400, code: 'required', summary: 'A search an IG in use requires parameters for (PDSm / MHD ITI-67: patient and status).', en: '{transaction} needs the search parameter(s) {names}', fr: '{transaction} exige le(s) paramètre(s) de recherche {names}' }),
  SEARCH_FORM: def({ id: 'http-search-form', status: 415, code: 'not-supported', summary: 'POST _search with a body that is not a form.', en: 'POST _search takes application/x-www-form-urlencoded parameters', fr: 'POST _search attend des paramètres application/x-www-form-urlencoded' }),
  HISTORY_NEEDS_TYPE: def({ id: 'http-history-needs-type', status: 400, code: 'invalid', summary: 'Instance history without a type.', en: 'Instance history needs a resource type', fr: 'L\u2019historique d\u2019une instance demande un type de ressource' }),
  PAGE_NUMBER: def({ id: 'http-page-number', status: 400, code: 'invalid', summary: 'A page size or offset that is not a non-negative integer.', en: 'Invalid {name} {value}', fr: '{name} invalide : {value}' }),

  // --- $validate ------------------------------------------------------------------------
  VALIDATE_TYPE: def({ id: 'http-validate-type', status: 400, code: 'invalid', summary: '$validate on a type with a resource of another type.', en: 'The resource to validate is a {found}, not a {type}', fr: 'La ressource à valider est de type {found} et non {type}' }),
  VALIDATE_PROFILE: def({ id: 'http-validate-profile', status: 400, code: 'not-found', summary: '$validate against a profile that is not loaded.', en: 'Unknown profile: {profile}', fr: 'Profil inconnu : {profile}' }),
  VALIDATE_RESOURCE_PARAM: def({ id: 'http-validate-resource-param', status: 400, code: 'structure', summary: '$validate Parameters whose "resource" carries no resource.', en: 'The "resource" parameter must carry a resource', fr: 'Le paramètre « resource » doit contenir une ressource' }),
  VALIDATE_MODE: def({ id: 'http-validate-mode', status: 400, code: 'not-supported', summary: '$validate mode other than create or update.', en: '$validate mode "{mode}" is not supported (create or update)', fr: 'Le mode « {mode} » de $validate n\u2019est pas pris en charge (create ou update)' }),

  // --- security -------------------------------------------------------------------------
  UNAUTHORIZED: def({ id: 'http-unauthorized', status: 401, code: 'login', summary: 'No valid bearer token.', en: '{detail}', fr: '{detailFr}' }),
  FORBIDDEN: def({ id: 'http-forbidden', status: 403, code: 'forbidden', summary: 'The token does not allow this access.', en: '{detail}', fr: '{detailFr}' }),
  AUTH_KEYS_UNAVAILABLE: def({ id: 'http-auth-keys-unavailable', status: 503, code: 'transient', summary: 'The authorisation server\u2019s keys could not be obtained.', en: 'The keys of the authorisation server could not be obtained: {detail}', fr: 'Les clés du serveur d\u2019autorisation n\u2019ont pas pu être obtenues ; réessayez plus tard' }),

  // --- limits and hostile input (issue 21; docs/security.md lists each limit) -------------
  TEXT_UNSTORABLE: def({ id: 'http-text-unstorable', status: 422, code: 'invalid', summary: 'A NUL character or a lone UTF-16 surrogate in the data.', en: 'The text at {expression} contains {what}: FHIR text cannot hold it (nothing was stored)', fr: 'Le texte en {expression} contient {whatFr} : un texte FHIR ne peut pas le contenir (rien n\u2019a été enregistré)' }),
  URL_UNSTORABLE: def({ id: 'http-url-unstorable', status: 400, code: 'invalid', summary: 'A NUL character, a control character or bytes that are not UTF-8 text in the URL.', en: 'The URL contains {what}, which no resource id or search value can hold', fr: 'L\u2019URL contient {whatFr}, qu\u2019aucun identifiant ni aucune valeur de recherche ne peut contenir' }),
  BODY_TOO_DEEP: def({ id: 'http-body-too-deep', status: 400, code: 'too-costly', summary: 'JSON nested deeper than the limit.', en: 'The body nests objects and arrays deeper than {limit} levels', fr: 'Le corps imbrique objets et tableaux sur plus de {limit} niveaux' }),
  BODY_TOO_LARGE_FOR: def({ id: 'http-body-too-large-for', status: 413, code: 'too-costly', summary: 'The body exceeds the size limit of its route.', en: 'The request body is larger than {limit} for {what}', fr: 'Le corps de la requête dépasse {limit} pour {whatFr}' }),
  TOO_MANY_ENTRIES: def({ id: 'http-too-many-entries', status: 413, code: 'too-costly', summary: 'A Bundle with more entries than the limit.', en: 'The Bundle has {count} entries; the limit is {limit}: send it in several Bundles', fr: 'Le Bundle compte {count} entrées ; la limite est {limit} : envoyez-le en plusieurs Bundles' }),
  VALUE_TOO_LONG: def({ id: 'http-value-too-long', status: 413, code: 'too-costly', summary: 'A string or an array longer than the limit.', en: '{what} at {expression} is longer than the limit ({limit})', fr: '{whatFr} en {expression} dépasse la limite ({limit})' }),
  RATE_LIMITED: def({ id: 'http-rate-limited', status: 429, code: 'throttled', summary: 'Too many requests from one client.', en: 'Too many requests from this client: {limit} per {window}; retry after {retry} s', fr: 'Trop de requêtes de ce client : {limit} par {windowFr} ; réessayez dans {retry} s' }),
  VALIDATION_TOO_COSTLY: def({ id: 'http-validation-too-costly', status: 413, code: 'too-costly', summary: 'Validating the body needed more memory than a validation worker has.', en: 'Validating this body needed more memory than a validation worker has ({limit}): send it in several Bundles', fr: 'La validation de ce corps a demandé plus de mémoire qu\u2019un processus de validation n\u2019en dispose ({limit}) : envoyez-le en plusieurs Bundles' }),
  REQUEST_TIMEOUT: def({ id: 'http-request-timeout', status: 408, code: 'timeout', summary: 'The request was not received in time.', en: 'The request was not received in time', fr: 'La requête n\u2019a pas été reçue à temps' }),

  // --- shared agendas (GAP, src/coordination/agenda/) --------------------------------------
  AGENDA_DOUBLE_BOOKING: def({ id: 'http-agenda-double-booking', status: 409, code: 'conflict', summary: 'An appointment would hold time an agenda already gave to another appointment (two bookings of one slot: one wins).', en: '{actor} already has appointment {other} from {start} to {end}: this time is not free', fr: '{actor} a déjà le rendez-vous {other} de {start} à {end} : ce créneau n\u2019est pas libre' }),
  AGENDA_SLOT_UNAVAILABLE: def({ id: 'http-agenda-slot-unavailable', status: 409, code: 'conflict', summary: 'An appointment names a slot that its Schedule does not offer (outside the availabilities, or in an unavailability).', en: 'Slot {slot} is not offered by its Schedule ({detail})', fr: 'Le créneau {slot} n\u2019est pas proposé par son agenda ({detailFr})' }),
  AGENDA_BAD_REQUEST: def({ id: 'http-agenda-bad-request', status: 400, code: 'invalid', summary: 'An agenda operation ($find, $book, a Slot search) asked with missing or unreadable parameters.', en: '{detail}', fr: '{detailFr}' }),
  AGENDA_NOT_A_MEMBER: def({ id: 'http-agenda-not-a-member', status: 422, code: 'business-rule', summary: '$find names a professional who is not an active member of the usager\u2019s circle of care.', en: '{member} is not an active member of the circle of care of {patient}', fr: '{member} n\u2019est pas membre actif du cercle de soins de {patient}' }),
  FEED_UNKNOWN: def({ id: 'http-feed-unknown', status: 404, code: 'not-found', summary: 'An iCalendar feed token that is unknown or revoked.', en: 'This calendar feed does not exist or was revoked', fr: 'Ce flux d\u2019agenda n\u2019existe pas ou a été révoqué' }),

  // --- server ---------------------------------------------------------------------------
  UNAVAILABLE: def({ id: 'http-unavailable', status: 503, code: 'transient', summary: 'The server is shutting down or not ready.', en: 'The server is shutting down or not ready', fr: 'Le serveur s\u2019arrête ou n\u2019est pas prêt' }),
  INTERNAL: def({ id: 'http-internal', status: 500, code: 'exception', summary: 'An unexpected error (logged with its id).', en: 'Internal server error (error id {errorId}, request id {requestId})', fr: 'Erreur interne du serveur (identifiant d\u2019erreur {errorId}, identifiant de requête {requestId})' }),
} as const;

export type HttpErrorKey = keyof typeof HTTP_ERRORS;

export interface FhirErrorOptions {
  /** FHIRPath location or parameter name. */
  expression?: string;
  /** Response headers (Allow, WWW-Authenticate, Retry-After…). */
  headers?: Record<string, string>;
  /** A full OperationOutcome to answer instead of the one built from the catalogue entry (validation reports). */
  outcome?: FhirResource;
}

/**
 * A rejection with its HTTP status and FHIR issue, from the catalogue. Thrown by storage, the
 * interactions, ingest and the HTTP routes alike; the server's error handler answers it as an
 * OperationOutcome. Match it with `instanceof`.
 */
export class FhirError extends Error {
  readonly status: number;
  readonly issueCode: string;
  /** French text (details.text). */
  readonly text: string;
  readonly expression?: string;
  readonly headers: Record<string, string>;

  constructor(
    readonly def: HttpErrorDef,
    readonly args: MessageArgs = {},
    readonly options: FhirErrorOptions = {},
  ) {
    const m = messagesOf({ id: def.id, severity: 'error', code: 'processing', summary: def.summary, en: def.en, fr: def.fr }, args);
    super(m.en);
    this.name = 'FhirError';
    this.status = def.status;
    this.issueCode = def.code;
    this.text = m.fr ?? m.en;
    if (options.expression !== undefined) this.expression = options.expression;
    this.headers = options.headers ?? {};
  }

  get id(): string {
    return this.def.id;
  }

  toOutcome(): FhirResource {
    return (
      this.options.outcome ??
      operationOutcome({ code: this.issueCode, diagnostics: this.message, text: this.text, expression: this.expression, id: this.def.id })
    );
  }
}

/** The catalogue as a list, for the reference docs. */
export function allHttpErrors(): HttpErrorDef[] {
  return Object.values(HTTP_ERRORS);
}
