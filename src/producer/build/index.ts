// `tddui build` as a library: validate a pivot document, apply the SSIAD window rule, build the Bundle.
import { plural, pluralEn } from '../../fhir/outcome/plural.js';
import { PivotError, parsePivot, type Pivot, type PivotInput } from '../pivot/schema.js';
import { pivotText } from '../pivot/messages.js';
import { pivotToBundle, type FhirBundle } from './bundle.js';
import { TDDUI_RULES } from '../../tddui/rules/catalogue.js';
import { agedItems, checkWindow, clipWindow } from './window.js';

export interface BuildOptions {
  /** Keep only the last 35 days of events/transports instead of refusing a longer history. */
  clipWindow?: boolean;
  /** Skip the SSIAD window rule (e.g. a PP-only export that carries a few old events). Default false. */
  skipWindow?: boolean;
  /** Name of the input in messages (file name). */
  source?: string;
  /** "Now" for the age warning (default: the current time). */
  now?: Date;
}

export interface BuildWarning {
  rule: string;
  message: string;
  messageFr: string;
}

export interface BuildResult {
  bundle: FhirBundle;
  /** The pivot actually built (defaults applied, clipped when asked). */
  pivot: Pivot;
  /** Items removed by clipWindow. */
  dropped: string[];
  /** Business-rule warnings (not refusals), with the rule id of the validator's catalogue. */
  warnings: BuildWarning[];
}

/** A refusal by a TDDUI business rule; `rule` is the id of the validator's rule catalogue. */
export class BuildError extends Error {
  /** The same in French (`message` is English). */
  readonly messageFr: string;

  constructor(readonly rule: string, message: string, messageFr: string, readonly source?: string) {
    super(`${source ? `${source}: ` : ''}[${rule}] ${message}`);
    this.name = 'BuildError';
    this.messageFr = `${source ? `${source} : ` : ''}[${rule}] ${messageFr}`;
  }
}

/**
 * Builds the TDDUI transaction Bundle of one usager. Throws PivotError when the document is not
 * a valid pivot (every problem names its field) and BuildError when a business rule refuses it.
 */
export function buildBundle(input: PivotInput | Pivot | unknown, options: BuildOptions = {}): BuildResult {
  if (input && typeof input === 'object' && (input as { resourceType?: unknown }).resourceType === 'Bundle') {
    throw new PivotError([{ pointer: '', ...pivotText('BUNDLE_NOT_PIVOT') }], options.source);
  }
  let pivot = parsePivot(input, options.source);
  const warnings: BuildWarning[] = [];
  let dropped: string[] = [];
  if (!options.skipWindow) {
    if (options.clipWindow) ({ pivot, dropped } = clipWindow(pivot));
    const who = `usager ${pivot.usager.idLocal}`;
    const problem = checkWindow(pivot, who);
    if (problem) throw new BuildError(problem.rule, problem.message, problem.messageFr, options.source);
    const aged = agedItems(pivot, options.now ?? new Date());
    if (aged.length) {
      warnings.push({
        rule: TDDUI_RULES.SSIAD_WINDOW_AGE.id,
        message: `${pluralEn(aged.length, 'event or transport', 'events or transports')} started more than 5 weeks ago (first: ${aged[0]}); a receiver may flag them (a SSIAD export covers the last 5 weeks)`,
        messageFr: `${plural(aged.length, 'évènement ou transport commencé', 'évènements ou transports commencés')} il y a plus de 5 semaines (premier : ${aged[0]}) ; un destinataire peut les signaler (un export SSIAD couvre les 5 dernières semaines)`,
      });
    }
  }
  return { bundle: pivotToBundle(pivot), pivot, dropped, warnings };
}

export { PivotError, pivotToBundle, type FhirBundle };
