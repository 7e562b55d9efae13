// `tddui build` as a library: validate a pivot document, apply the SSIAD window rule, build the Bundle.
import { PivotError, parsePivot, type Pivot, type PivotInput } from '../pivot/schema.js';
import { pivotToBundle, type FhirBundle } from './bundle.js';
import { checkWindow, clipWindow } from './window.js';

export interface BuildOptions {
  /** Keep only the last 35 days of events/transports instead of refusing a longer history. */
  clipWindow?: boolean;
  /** Skip the SSIAD window rule (e.g. a PP-only export that carries a few old events). Default false. */
  skipWindow?: boolean;
  /** Name of the input in messages (file name). */
  source?: string;
}

export interface BuildResult {
  bundle: FhirBundle;
  /** The pivot actually built (defaults applied, clipped when asked). */
  pivot: Pivot;
  /** Items removed by clipWindow. */
  dropped: string[];
}

/** A refusal by a TDDUI business rule; `rule` is the id of the validator's rule catalogue. */
export class BuildError extends Error {
  constructor(readonly rule: string, message: string, readonly messageFr?: string, readonly source?: string) {
    super(`${source ? `${source}: ` : ''}[${rule}] ${message}`);
    this.name = 'BuildError';
  }
}

/**
 * Builds the TDDUI transaction Bundle of one usager. Throws PivotError when the document is not
 * a valid pivot (every problem names its field) and BuildError when a business rule refuses it.
 */
export function buildBundle(input: PivotInput | Pivot | unknown, options: BuildOptions = {}): BuildResult {
  let pivot = parsePivot(input, options.source);
  let dropped: string[] = [];
  if (!options.skipWindow) {
    if (options.clipWindow) ({ pivot, dropped } = clipWindow(pivot));
    const who = `usager ${pivot.usager.idLocal}`;
    const problem = checkWindow(pivot, who);
    if (problem) throw new BuildError(problem.rule, problem.message, problem.messageFr, options.source);
  }
  return { bundle: pivotToBundle(pivot), pivot, dropped };
}

export { PivotError, pivotToBundle, type FhirBundle };
