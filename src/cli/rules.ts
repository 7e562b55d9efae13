// `tddui rules [ID...]`: the catalogue of rule ids that reports carry — every id with its
// meaning, or one rule explained (texts in both languages, source in the IG, an example of
// the fix), so a vendor reading a CI report knows what to change.
import { findRule, allRules, nearestRuleIds, type IndexedRule } from '../tddui/rule-index.js';
import { fixFor } from '../tddui/rule-fixes.js';
import { Command } from './args.js';
import { langFromEnv } from './validate.js';

export const RULES_HELP = `Usage: tddui rules [options] [ID...]

Without ID: every rule id the validator and the server report (TDDUI rules first), with its
default severity and meaning. With ID (e.g. tddui-nir-key, fhir-cardinality-min): the rule
explained — severity, FHIR issue type, category, meaning, its message in English and French
({placeholders} are filled per finding), where it comes from in the IG or the FHIR
specification, and an example of the fix.

Options:
  --lang fr|en        Language of the labels and of the fix example (default: from LANG;
                      French when it starts with fr). Both messages are always shown.
  --format text|json  json: the rules as objects (id, group, severity, code, category,
                      summary, en, fr, reference, fix).
  -h, --help          Show this help.

Exit status: 0; 2 on an unknown rule id (the nearest ids are suggested) or a usage error.
`;

const cli = new Command('rules', RULES_HELP);

const LABELS = {
  en: { severity: 'Severity', code: 'Issue type', category: 'Category', meaning: 'Meaning', en: 'Message (en)', fr: 'Message (fr)', source: 'Source', fix: 'Example of the fix', none: '(none yet: see the source)', group: { tddui: 'TDDUI rule', fhir: 'FHIR engine check' }, cat: { data: 'finding about the data', 'not-checked': 'check not made (a definition or package missing)', 'ig-defect': 'IG defect the data follow' } },
  fr: { severity: 'Gravité', code: 'Type FHIR', category: 'Catégorie', meaning: 'Sens (en)', en: 'Message (en)', fr: 'Message (fr)', source: 'Source', fix: 'Exemple de correction', none: '(pas encore d’exemple : voir la source)', group: { tddui: 'Règle TDDUI', fhir: 'Vérification FHIR' }, cat: { data: 'constat sur les données', 'not-checked': 'vérification non faite (définition ou paquet manquant)', 'ig-defect': 'défaut du guide que les données suivent' } },
};

const SEVERITY_FR = { fatal: 'fatale', error: 'erreur', warning: 'avertissement', information: 'information' } as const;

function asJson({ group, rule }: IndexedRule) {
  return { id: rule.id, group, severity: rule.severity, code: rule.code, category: rule.category ?? 'data', summary: rule.summary, en: rule.en, fr: rule.fr, reference: rule.reference, fix: fixFor(rule.id, rule.category) };
}

function explain(r: IndexedRule, lang: 'fr' | 'en'): string {
  const l = LABELS[lang];
  const { rule } = r;
  const fix = fixFor(rule.id, rule.category);
  const colon = lang === 'fr' ? ' :' : ':';
  const row = (label: string, value: string) => `  ${label}${colon} ${value}`;
  return [
    `${rule.id} — ${l.group[r.group]}`,
    row(l.severity, lang === 'fr' ? SEVERITY_FR[rule.severity] : rule.severity),
    row(l.code, rule.code),
    row(l.category, l.cat[rule.category ?? 'data']),
    row(l.meaning, rule.summary),
    row(l.en, rule.en),
    row(l.fr, rule.fr ?? '—'),
    row(l.source, rule.reference ?? (r.group === 'fhir' ? 'FHIR R4 (hl7.org/fhir/R4), docs/rules.md' : 'docs/rules.md')),
    row(l.fix, fix ? fix[lang] : l.none),
  ].join('\n');
}

export async function runRules(argv: string[]): Promise<number> {
  const args = cli.parse(argv, { lang: { type: 'string' }, format: { type: 'string', default: 'text' } });
  if (typeof args === 'number') return args;
  const { values, positionals } = args;
  const lang = values.lang ?? langFromEnv();
  if (lang !== 'fr' && lang !== 'en') return cli.fail(`--lang must be fr or en, not "${values.lang}"`);
  if (values.format !== 'text' && values.format !== 'json') return cli.fail(`--format must be text or json, not "${values.format}"`);
  let rules: IndexedRule[];
  if (positionals.length === 0) rules = allRules();
  else {
    rules = [];
    for (const id of positionals) {
      const r = findRule(id.trim());
      if (!r) {
        const near = nearestRuleIds(id);
        return cli.fail(`unknown rule id "${id}"${near.length ? ` (nearest: ${near.join(', ')})` : ''}; tddui rules lists them all`);
      }
      rules.push(r);
    }
  }
  if (values.format === 'json') {
    process.stdout.write(JSON.stringify(positionals.length === 1 ? asJson(rules[0]!) : rules.map(asJson), null, 2) + '\n');
    return 0;
  }
  if (positionals.length === 0) {
    const width = Math.max(...rules.map((r) => r.rule.id.length));
    for (const { rule } of rules) process.stdout.write(`${rule.id.padEnd(width)}  ${rule.severity.padEnd(11)}  ${rule.summary}\n`);
    process.stdout.write(`\n${rules.length} ${lang === 'fr' ? 'règles ; tddui rules ID en explique une.' : 'rules; tddui rules ID explains one.'}\n`);
    return 0;
  }
  process.stdout.write(rules.map((r) => explain(r, lang)).join('\n\n') + '\n');
  return 0;
}
