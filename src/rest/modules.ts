// The registration point of IG-specific behaviour on the generic FHIR server core. An IG module
// (TDDUI today; CDS, CdL, NdE, GAP, PDSm tomorrow) says what it serves beyond its
// CapabilityStatements, adds business rules to writes, may choose its own validation, its
// resend matching, and may take over the transaction Bundles that are its own. Nothing of the
// core (storage, the interactions, the HTTP routes) changes when a module is added.
import type { FhirResource, Json } from '../fhir/json.js';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import type { KeyOf } from '../storage/keys.js';
import type { ChangeGuard, EventDeclaration, Queryable, ResourceRecord, SearchParam, SearchQuery, SearchResult, WrittenChange } from '../storage/types.js';
import type { Interaction } from './served.js';
import type { Guard, WriteAnswer } from './service.js';

export type WriteInteraction = 'create' | 'update' | 'patch' | 'delete';

export interface WriteContext {
  interaction: WriteInteraction;
  type: string;
  /** The profile the serving IG's CapabilityStatement names for the type, if any. */
  profile?: string;
  /** The IG (package name) serving this write. */
  ig?: string;
  /** The IG the enclosing Bundle claims (its entries' context), if any. */
  context?: string;
  /** The stored version being replaced (update, patch). */
  current?: ResourceRecord;
}

/** What a Bundle handler answers (status, body, and the submission id when it logs one). */
export interface BundleResult {
  status: number;
  body: FhirResource;
  submissionId?: string;
  /** The body already serialised as UTF-8 JSON (a refusal built by a validation worker), sent as it is. */
  bytes?: Uint8Array;
  /** An accepted Bundle's transaction-response as JSON text, its entries' fullUrls against `base` when given: the text of serialising that Bundle. */
  json?: (base?: string) => string;
}

/**
 * A type whose resources a module computes rather than stores (GAP: Slots generated from the
 * Schedules and Appointments): reads and searches of the HTTP API answer from it, with the same
 * parsing, paging, `_summary` / `_elements` and access checks as stored types.
 */
export interface ComputedType {
  read(id: string): Promise<ResourceRecord>;
  search(query: SearchQuery): Promise<SearchResult>;
  /** What `/metadata` says of it (its search parameters and includes are its own, not the index's). */
  capability?: { searchParams: { name: string; type: string; documentation: string }[]; searchInclude: string[]; documentation: string };
}

/** An operation a module serves on a type (listed by `/metadata`). */
export interface ModuleOperation {
  type: string;
  name: string;
  documentation: string;
}

/**
 * A search inside the write's own transaction, the plan's contents included (what the same
 * Bundle creates is found): the ids matched, at most two. For checks that need stored data.
 */
export type Finder = (resourceType: string, criteria: SearchParam[]) => Promise<string[]>;

export interface IgModule {
  /** Its name: the package name of the IG (`ans.fhir.fr.tddui`). */
  readonly name: string;
  /** Types and interactions it serves that its CapabilityStatements do not say (TDDUI's Consommateur is a client statement). */
  served?(): { type: string; interactions: Interaction[]; profile?: string; supportedProfiles?: string[]; documentation?: string; updateCreate?: boolean }[];
  /** Whether a resource is this IG's (e.g. it declares one of its profiles): its module then handles the write. */
  owns?(resource: FhirResource): boolean;
  /** Validation on write, replacing the generic one (profile of the CapabilityStatement). */
  validate?(resource: FhirResource, ctx: WriteContext): ValidationIssue[];
  /**
   * Extension URLs this module defines and checks itself in `rules` (the project's extensions,
   * which no loaded package defines): the validator's "unknown extension" findings on them are
   * dropped.
   */
  ownExtensions?: string[];
  /** Business rules added to the validation of a write (errors reject it with 422). */
  rules?(resource: FhirResource, ctx: WriteContext): ValidationIssue[];
  /**
   * A check of a write against other stored data, inside the write's database transaction
   * (after validation; `tx` sees what the transaction sees, and may take advisory locks), e.g.
   * GAP: an appointment must not double-book an agenda. Throw a FhirError to refuse the write.
   */
  inTransaction?(resource: FhirResource, ctx: WriteContext, tx: Queryable): Promise<void>;
  /** Operations it serves (its routes are the server's), for `/metadata`. */
  operations?: ModuleOperation[];
  /** Types it computes instead of storing (reads and searches answer from them). */
  computed?: Record<string, ComputedType>;
  /**
   * Rules that need the stored data (the usager a circle names exists; a reply's note is the same
   * usager's), run inside the write's transaction on the final content (references resolved).
   */
  verify?(resource: FhirResource, ctx: WriteContext, find: Finder): Promise<ValidationIssue[]>;
  /**
   * The identity of a resource across flows (a usager by INS, else by their business
   * identifiers), as search criteria: a create without If-None-Exist is then a conditional create
   * on them — the usager already known (from TDDUI data, another volet) is found, not duplicated.
   */
  identity?(resource: FhirResource): string | undefined;
  /**
   * Resend matching of plain creates: the owner and business keys of a resource. A create
   * whose key is known for that owner becomes a new version of that object.
   */
  businessKeys?(resource: FhirResource): { owner?: string; keys: KeyOf[] } | undefined;
  /** Told of every create it handled (accepted or rejected), e.g. to log it. */
  onCreate?(event: { submitted: FhirResource; status: number; outcome: FhirResource; stored?: ResourceRecord; receivedAt: string; client?: string }): Promise<string | undefined>;
  /**
   * The events a write means (a séjour started, a note added, a member added to a circle),
   * evaluated by the write path on EVERY change of every plan — whoever made it — once the
   * version is final, inside the transaction: the events are written to the outbox in the same
   * statement as the data (src/storage/outbox.ts). Synchronous and without I/O: the change
   * carries the version written and, when the write path read it, the one replaced. Codes and
   * helpers: src/rest/events.ts (EVENT_TYPES, declare, patientOf). `source` defaults to the
   * module's name. Docs: docs/notifications.md.
   */
  events?(change: WrittenChange): EventDeclaration[];
  /**
   * A rule on replacing stored versions, asked by EVERY plan of the write path whoever makes it
   * (REST interactions, a module's Bundles), inside its transaction: throw a FhirError to refuse
   * the plan (TDDUI: a validated projet personnalisé is frozen, D-150). Composed by the server.
   */
  guard?: ChangeGuard;
  /**
   * Creates this IG processes itself instead of the plain create (PDSm / MHD ITI-105: the
   * document sent inline is stored as a Binary the DocumentReference points to). `guard` is the
   * HTTP layer's check of what will be stored (FINESS), to run inside the plan.
   */
  create?: {
    claims(resource: FhirResource): boolean;
    handle(resource: FhirResource, ctx: { guard?: Guard }): Promise<WriteAnswer>;
  };
  /**
   * What this IG's transactions require of a search on a type (PDSm / MHD ITI-67: `patient` and
   * `status`): the names missing, with the transaction's name; undefined when nothing is missing.
   */
  searchRequires?(type: string, params: readonly SearchParam[]): { transaction: string; missing: string[] } | undefined;
  /** Transaction Bundles this IG processes itself (TDDUI flow 1, PDSm / MHD ITI-65). */
  bundle?: {
    claims(bundle: Json, ctx: { alone: boolean }): boolean;
    /**
     * `client`: who sent it (token subject and client id), for the submission log; `bytes`: the
     * request's JSON, when kept (a validation worker parses it rather than the parsed tree being
     * copied); `checked`: this module's checks before storing, already run by the validation
     * worker that read the body (TDDUI: ingest's CheckedElsewhere) at `at` — when they refused
     * it, `bundle` is only its stub (`resourceType`, `type`, `meta`): the tree was never built here.
     */
    handle(bundle: Json, ctx?: { client?: string; bytes?: Buffer; checked?: unknown; at?: Date }): Promise<BundleResult>;
  };
}

/** The modules' guards as one (each asked in turn), or undefined when none has one. */
export function guardOf(modules: readonly IgModule[]): ChangeGuard | undefined {
  const guards = modules.map((m) => m.guard).filter((g): g is ChangeGuard => !!g);
  if (guards.length === 0) return undefined;
  return async (writes, tx) => {
    for (const g of guards) await g(writes, tx);
  };
}
