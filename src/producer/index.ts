// The producer SDK: what a DUI vendor calls from TypeScript/JavaScript. `tddui build`, `read`,
// `generate` and `send` are thin wrappers over these functions, so both give the same result.
import { buildBundle, type BuildOptions, type BuildResult } from './build/index.js';
import { PIVOT_FORMAT, type PivotInput } from './pivot/schema.js';

type In = PivotInput;
type Item<K extends keyof In> = NonNullable<In[K]> extends (infer T)[] ? T : never;
type PpInput = Item<'projetsPersonnalises'>;

/**
 * A typed, fluent way to assemble the pivot document of one usager:
 *
 *   const bundle = new TdduiExport({ finess: '750000010', raisonSociale: 'SSIAD …' }, usager)
 *     .professionnel({ idNatPs: '810101234567', nom: 'Martin' })
 *     .evenement({ id: '1', statut: 'finished', types: [{ ssiad: { code: 'MED-1298' } }], debut, fin })
 *     .toBundle();
 */
export class TdduiExport {
  private readonly doc: In & Required<Pick<In, 'professionnels' | 'contacts' | 'sejours' | 'evenements' | 'transports' | 'evaluations' | 'documents' | 'projetsPersonnalises'>>;

  constructor(structure: In['structure'], usager: In['usager']) {
    this.doc = {
      format: PIVOT_FORMAT,
      structure,
      usager,
      professionnels: [],
      contacts: [],
      sejours: [],
      evenements: [],
      transports: [],
      evaluations: [],
      documents: [],
      projetsPersonnalises: [],
    };
  }

  professionnel(p: Item<'professionnels'>): this {
    this.doc.professionnels.push(p);
    return this;
  }
  contact(c: Item<'contacts'>): this {
    this.doc.contacts.push(c);
    return this;
  }
  sejour(s: Item<'sejours'>): this {
    this.doc.sejours.push(s);
    return this;
  }
  evenement(e: Item<'evenements'>): this {
    this.doc.evenements.push(e);
    return this;
  }
  transport(t: Item<'transports'>): this {
    this.doc.transports.push(t);
    return this;
  }
  evaluation(e: Item<'evaluations'>): this {
    this.doc.evaluations.push(e);
    return this;
  }
  document(d: Item<'documents'>): this {
    this.doc.documents.push(d);
    return this;
  }
  projetPersonnalise(pp: PpInput): this {
    this.doc.projetsPersonnalises.push(pp);
    return this;
  }

  /** The pivot document (a copy), as `tddui build` reads it. */
  toPivot(): PivotInput {
    return structuredClone(this.doc);
  }

  /** Validates the document and builds the Bundle; throws PivotError / BuildError like `tddui build`. */
  build(options?: BuildOptions): BuildResult {
    return buildBundle(this.toPivot(), options);
  }

  toBundle(options?: BuildOptions): BuildResult['bundle'] {
    return this.build(options).bundle;
  }
}

export { buildBundle, BuildError, PivotError, type BuildOptions, type BuildResult, type BuildWarning, type FhirBundle } from './build/index.js';
export { checkWindow, clipWindow, windowSpan, WINDOW_MAX_DAYS, WINDOW_MIN_DAYS } from './build/window.js';
export { readBundle, ReadError } from './read/index.js';
export { parsePivot, safeParsePivot, PivotSchema, PIVOT_FORMAT, type Pivot, type PivotInput, type PivotProblem } from './pivot/schema.js';
export { pivotJsonSchema } from './pivot/json-schema.js';
export { generateUsagers, aggirGrid, nirWithKey, finessWithKey, type GenerateOptions } from './generate/index.js';
export { writeGenerated, type WriteOptions } from './generate/write.js';
export { computeGir, aggirRank, girOfEvaluation, modalityFromAdverbs, type Modality } from './generate/aggir.js';
export { sendBundles, readItems, listFiles, parseRetryAfter, backoffDelay, type SendOptions, type SendReport, type SendItemResult, type SendEvent, type SendItem } from './send/index.js';
export { publishDocuments, publishItems, simplifiedPublishDocument, documentUuid, contentTypeOf, SIMPLIFIED_PUBLISH_PROFILE, type DocumentMetadata, type Coding } from './publish/index.js';
