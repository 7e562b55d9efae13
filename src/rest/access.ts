// The access-rule seam: who may read, search, include, see the history of, or write which
// resource, beyond what the token's scopes and FINESS say (src/server/auth.ts). Every read path
// of the HTTP layer (read, vread, history, search matches, `_include` / `_revinclude`) and every
// write (create, update, patch, delete, transaction entries) asks the AccessControl here; rules
// plug in per concern (the circle of care of CDS / CdL today: src/coordination/circle-access.ts;
// audit, consent or compartment rules tomorrow) and the HTTP layer does not change.
//
// Search is restricted *before* it runs (extra search parameters), never filtered after: a
// filtered page would still show the real total, and the total would leak what is hidden.
//
// Organisations and territories (issue 18): a token may be restricted to the ESSMS of some
// FINESS numbers or départements (its read scope, src/server/auth.ts). `readScope` is the one
// answer every reader of health data asks for — the FHIR API (read, vread, history, search with
// its chains, `_has`, includes and totals, submitted Bundles, operations), `$export`, the audit
// trail, the web UI's pages, CSV exports and indicators — and hands to the storage layer, which
// applies it in SQL (src/storage/scope.ts): out of scope is "not found", never a 403 that would
// confirm the id exists. What cannot be restricted that way is refused to a restricted token
// (`requireUnrestricted`), never served whole (decisions.md D-170).
import type { FhirResource } from '../fhir/json.js';
import { FhirError, HTTP_ERRORS } from '../fhir/outcome/http-errors.js';
import type { ReadScope, SearchParam } from '../storage/types.js';
import { describeScope } from '../storage/scope.js';

/** Who asks, as the token says: the client (`sub`) and, for a person, their FHIR identity. */
export interface Actor {
  subject: string;
  /** `Practitioner/…`, `PractitionerRole/…`, `RelatedPerson/…` or `Patient/…` (SMART's `fhirUser` claim); absent for a system client. */
  fhirUser?: string;
  /** The organisations and territories the token restricts reads to; absent: not restricted. */
  scope?: ReadScope;
}

/** The read scope of an actor: what every read of health data is restricted to (undefined: nothing). */
export function readScope(actor: Actor | undefined): ReadScope | undefined {
  return actor?.scope;
}

/**
 * 403 for a restricted actor on a feature that cannot be restricted to organisations (it would
 * show other ESSMS' data, or their existence): `what` names it, in English and French.
 */
export function requireUnrestricted(actor: Actor | undefined, what: Refusal): void {
  const scope = actor?.scope;
  if (!scope) return;
  throw refused({
    en: `${what.en} is not available to a token restricted to some organisations (${describeScope(scope)})`,
    fr: `${what.fr} n’est pas accessible à un jeton limité à certains établissements (${describeScope(scope)})`,
  });
}

/** A refusal's reason, in English and French. */
export interface Refusal {
  en: string;
  fr: string;
}

export interface AccessRule {
  readonly name: string;
  /** Whether the rule decides on resources of this type for this actor (else it has no say). */
  governsType(actor: Actor, type: string): boolean;
  /** Why the actor may not read this resource, or undefined when they may. */
  readRefusal(actor: Actor, resource: FhirResource): Promise<Refusal | undefined>;
  /** Why the actor may not write this resource (the stored version too, for a change), or undefined. */
  writeRefusal(actor: Actor, resource: FhirResource | undefined, current: FhirResource | undefined): Promise<Refusal | undefined>;
  /** Parameters every search of `type` by the actor is ANDed with; undefined: no restriction. */
  searchRestriction(actor: Actor, type: string): Promise<SearchParam[] | undefined>;
  /** Why a history of the whole type (or of the system) is refused to the actor, or undefined. */
  historyRefusal(actor: Actor, type: string | undefined): Refusal | undefined;
}

export function refused(r: Refusal, expression?: string): FhirError {
  return new FhirError(HTTP_ERRORS.FORBIDDEN, { detail: r.en, detailFr: r.fr }, expression ? { expression } : {});
}

/** The rules in force; with none, every check passes (the API is open, or governed by scopes only). */
export class AccessControl {
  constructor(readonly rules: AccessRule[] = []) {}

  private rulesFor(actor: Actor | undefined, type: string): AccessRule[] {
    if (!actor) return [];
    return this.rules.filter((r) => r.governsType(actor, type));
  }

  governs(actor: Actor | undefined, type: string): boolean {
    return this.rulesFor(actor, type).length > 0;
  }

  /** 403 unless the actor may read the resource. */
  async requireRead(actor: Actor | undefined, resource: FhirResource): Promise<void> {
    for (const r of this.rulesFor(actor, String(resource.resourceType))) {
      const no = await r.readRefusal(actor!, resource);
      if (no) throw refused(no);
    }
  }

  /** The resources the actor may read, in order (for `_include`, `_revinclude`, history entries). */
  async readable<T extends { resource: FhirResource }>(actor: Actor | undefined, items: T[]): Promise<T[]> {
    if (!actor || this.rules.length === 0) return items;
    const out: T[] = [];
    for (const it of items) {
      const rules = this.rulesFor(actor, String(it.resource.resourceType));
      let ok = true;
      for (const r of rules) if (await r.readRefusal(actor, it.resource)) ok = false;
      if (ok) out.push(it);
    }
    return out;
  }

  /** 403 unless the actor may write `resource` (undefined for a delete) over `current`. */
  async requireWrite(actor: Actor | undefined, type: string, resource: FhirResource | undefined, current: FhirResource | undefined): Promise<void> {
    for (const r of this.rulesFor(actor, type)) {
      const no = await r.writeRefusal(actor!, resource, current);
      if (no) throw refused(no);
    }
  }

  /** The search parameters that restrict a search of `type` to what the actor may read. */
  async searchRestriction(actor: Actor | undefined, type: string): Promise<SearchParam[]> {
    const out: SearchParam[] = [];
    for (const r of this.rulesFor(actor, type)) out.push(...((await r.searchRestriction(actor!, type)) ?? []));
    return out;
  }

  /** 403 when a type-level (or system-level, type undefined) history is refused to the actor. */
  requireHistory(actor: Actor | undefined, type: string | undefined): void {
    if (!actor) return;
    for (const r of this.rules) {
      if (type !== undefined && !r.governsType(actor, type)) continue;
      const no = r.historyRefusal(actor, type);
      if (no) throw refused(no);
    }
  }
}
