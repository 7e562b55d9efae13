// A MeasureReport against the Measure it reports on, as the HL7 validator checks it: each group,
// population and stratifier of the report is matched by its code to one of the Measure (a
// report with one group may leave it anonymous when the Measure has one), no definition is
// reported twice and none is left out. Only a subject-list report lists its subjects
// (`subjectResults`), whether the Measure is loaded or not (D-47). Scores and the CQL behind
// the criteria are not checked here (see decisions.md D-235).
import { CODES } from '../outcome/codes.js';
import { isObject, type Json } from './paths.js';
import type { Run } from './run.js';

export function checkMeasureReport(run: Run, mr: Json, path: string): void {
  if (typeof mr.type === 'string' && mr.type !== 'subject-list') checkSubjects(run, mr, path, mr.type);
  const canonical = typeof mr.measure === 'string' ? mr.measure : undefined;
  if (!canonical) return;
  const measure = canonical.startsWith('#') ? containedMeasure(mr, canonical.slice(1)) : run.profiles.registry.resolve(canonical, 'Measure');
  if (!measure) {
    run.out.once(`measure:${canonical}`, CODES.MEASURE_REPORT_MEASURE_UNKNOWN, `${path}.measure`, () => ({ measure: canonical, ...run.v.describeMissing(canonical) }));
    return;
  }
  new ReportCheck(run, canonical, mr.type === 'data-collection').groups(list(mr.group), list(measure.group), path);
}

/** Only a subject-list MeasureReport lists its subjects. */
function checkSubjects(run: Run, mr: Json, path: string, type: string): void {
  list(mr.group).forEach((g, gi) => {
    list(g.population).forEach((p, pi) => {
      if (p.subjectResults !== undefined) run.out.push(CODES.MEASURE_REPORT_SUBJECTS, `${path}.group[${gi}].population[${pi}]`, { type });
    });
  });
}

function containedMeasure(mr: Json, id: string): Json | undefined {
  return list(mr.contained).find((r) => r.resourceType === 'Measure' && r.id === id);
}

/** The objects of an array property (anything else is reported by the structural checks). */
function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

interface Coding {
  system?: unknown;
  code?: unknown;
}

function codings(cc: Json | undefined): Coding[] {
  return cc ? list(cc.coding) : [];
}

/**
 * A coding of `a` that `b` has too (system and code); for stratifiers, also the same text when
 * neither has codings (as the reference matches them: a stratifier is often named by text only).
 */
function sameConcept(a: Json | undefined, b: Json | undefined, byText = false): boolean {
  if (!a || !b) return false;
  const bc = codings(b);
  if (codings(a).some((c) => bc.some((d) => d.system === c.system && d.code === c.code))) return true;
  return byText && codings(a).length === 0 && bc.length === 0 && typeof a.text === 'string' && a.text === b.text;
}

/** How a concept (and its definition's id) reads in a message: its codes, else its text. */
function describe(cc: Json | undefined, id?: unknown): string {
  const codes = codings(cc)
    .map((c) => [c.system, c.code].filter((x) => typeof x === 'string').join('#'))
    .filter((s) => s);
  const text = codes.length > 0 ? codes.join(', ') : typeof cc?.text === 'string' ? cc.text : "''";
  return typeof id === 'string' ? `${text} (id ${id})` : text;
}

type Part = 'group' | 'population' | 'stratifier';
const PART_FR: Record<Part, string> = { group: 'le groupe', population: 'la population', stratifier: 'le critère de stratification' };

class ReportCheck {
  constructor(
    private readonly run: Run,
    private readonly measure: string,
    private readonly dataCollection: boolean,
  ) {}

  groups(reported: Json[], defined: Json[], path: string): void {
    if (reported.length === 1 && defined.length === 1) {
      // One group each: the report's may be anonymous; when both have a code, they agree.
      const g = reported[0]!;
      const d = defined[0]!;
      const at = `${path}.group[0]`;
      if (isObject(d.code) && isObject(g.code)) {
        const usable = codings(g.code).some((c) => typeof c.system === 'string' && typeof c.code === 'string');
        if (!usable || !sameConcept(g.code, d.code)) {
          this.run.out.push(CODES.MEASURE_REPORT_GROUP_CODE, at, { code: describe(g.code), expected: describe(d.code), measure: this.measure });
        }
      }
      this.group(g, d, at);
      return;
    }
    const seen = new Set<Json>();
    reported.forEach((g, i) => {
      const at = `${path}.group[${i}]`;
      const d = this.match('group', g, defined, seen, at);
      if (d) this.group(g, d, at);
    });
    if (this.dataCollection) return;
    for (const d of defined) if (!seen.has(d)) this.missing('group', d, path);
  }

  private group(g: Json, d: Json, at: string): void {
    const pops = list(g.population);
    const seenPops = new Set<Json>();
    pops.forEach((p, i) => this.match('population', p, list(d.population), seenPops, `${at}.population[${i}]`));
    for (const dp of list(d.population)) {
      // A measure-observation population is computed, not counted: a report may leave it out.
      const observation = codings(isObject(dp.code) ? dp.code : undefined).some((c) => c.system === 'http://terminology.hl7.org/CodeSystem/measure-population' && c.code === 'measure-observation');
      if (!seenPops.has(dp) && !observation) this.missing('population', dp, at);
    }
    const seenStrats = new Set<Json>();
    list(g.stratifier).forEach((s, i) => this.match('stratifier', s, list(d.stratifier), seenStrats, `${at}.stratifier[${i}]`));
    for (const ds of list(d.stratifier)) if (!seenStrats.has(ds)) this.missing('stratifier', ds, at);
  }

  /** The definition a reported part stands for, by its code; undefined (reported) when none or already reported. */
  private match(part: Part, reported: Json, defined: Json[], seen: Set<Json>, at: string): Json | undefined {
    const partFr = PART_FR[part];
    // MeasureReport.group.stratifier.code repeats in R4 (its first one names it, as for the reference).
    const code = isObject(reported.code) ? reported.code : list(reported.code)[0];
    if (!code) {
      this.run.out.push(CODES.MEASURE_REPORT_CODE_MISSING, at, { part, partFr, measure: this.measure });
      return undefined;
    }
    const d = defined.find((x) => isObject(x.code) && sameConcept(code, x.code, part === 'stratifier'));
    if (!d) {
      this.run.out.push(CODES.MEASURE_REPORT_CODE_UNKNOWN, at, { part, partFr, code: describe(code), measure: this.measure });
      return undefined;
    }
    if (seen.has(d)) {
      this.run.out.push(CODES.MEASURE_REPORT_CODE_DUPLICATE, at, { part, partFr, code: describe(code), measure: this.measure });
      return undefined;
    }
    seen.add(d);
    return d;
  }

  private missing(part: Part, d: Json, at: string): void {
    this.run.out.push(CODES.MEASURE_REPORT_MISSING, at, { part, partFr: PART_FR[part], code: describe(isObject(d.code) ? d.code : undefined, d.id), measure: this.measure });
  }
}
