// "Valider un fichier": a vendor drops a JSON or XML export and sees the validation report,
// rendered like a received submission's report. Nothing is stored.
import { jsonDepthExceeds } from '../../fhir/text.js';
import { MAX_JSON_DEPTH } from '../../server/format.js';
import { html, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { renderReport, countIssues, issuesFromOutcome } from '../report.js';
import { igLabel } from './submissions.js';
import { xmlToJson } from '../../fhir/xml/index.js';
import { toOperationOutcome } from '../../fhir/outcome/issue.js';
import type { TdduiValidator } from '../../tddui/validator.js';
import { plural } from '../../fhir/outcome/plural.js';

export interface ParsedFile {
  ok: true;
  resource: unknown;
  format: 'json' | 'xml';
}

export interface FileError {
  ok: false;
  /** French message shown to the user. */
  message: string;
}

/** Line and column (1-based) of a character offset. */
function position(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return `ligne ${line}, colonne ${col}`;
}

/**
 * Offset of the first JSON syntax error (JSON.parse on Node 20 does not always say where):
 * a minimal recursive-descent scan of the RFC 8259 grammar.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (depth: number): void => {
    if (depth > 500) fail();
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    } else {
      for (const w of ['true', 'false', 'null']) if (text.startsWith(w, i)) return void (i += w.length);
      fail();
    }
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail();
      } else i++;
    }
    fail();
  };
  try {
    value(0);
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    return typeof at === 'number' ? at : undefined;
  }
}

/** Reads the file content as FHIR JSON or XML (by name, else by its first character). */
export function parseFile(text: string, name: string | undefined): ParsedFile | FileError {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trim()) return { ok: false, message: 'Le fichier est vide.' };
  const looksXml = /\.xml$/i.test(name ?? '') || body.trimStart().startsWith('<');
  if (looksXml) {
    try {
      return { ok: true, resource: xmlToJson(body), format: 'xml' };
    } catch (e) {
      return { ok: false, message: `Le fichier n’est pas un XML FHIR lisible : ${(e as Error).message}` };
    }
  }
  if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) return { ok: false, message: `Le fichier imbrique objets et tableaux sur plus de ${MAX_JSON_DEPTH} niveaux : ce n’est pas une ressource FHIR.` };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    const at = jsonErrorOffset(body);
    return { ok: false, message: `Le fichier n’est pas un JSON valide${at !== undefined ? ` (${position(body, at)})` : ''} : ${(e as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { resourceType?: unknown }).resourceType !== 'string') {
    return { ok: false, message: 'Le fichier ne contient pas une ressource FHIR : la propriété « resourceType » est absente.' };
  }
  return { ok: true, resource: value, format: 'json' };
}

function form(content = ''): SafeHtml {
  return html`<form id="validate-form" method="post" action="/valider">
<div class="dropzone" id="dropzone">
<p><strong>Déposez ici un fichier FHIR (JSON ou XML)</strong><br>— un Bundle de transaction TDDUI ou une ressource seule —</p>
<p>ou <label for="fichier">choisissez un fichier</label> : <input type="file" id="fichier" accept=".json,.xml,application/json,application/fhir+json,application/xml,application/fhir+xml"></p>
<p id="drop-status" role="status" aria-live="polite"></p>
</div>
<details${content ? html` open` : ''}><summary>Ou collez le contenu</summary>
<input type="hidden" name="nom" value="">
<textarea name="contenu" spellcheck="false" aria-label="Contenu du fichier">${content}</textarea>
<p><button type="submit">Valider</button></p>
</details>
</form>
<p class="muted">Le fichier est validé sur ce serveur (profils TDDUI 2.2.0 et règles métier) et n’est pas enregistré.</p>`;
}

export function validateFormPage(): string {
  return page({ title: 'Valider un fichier', section: 'valider', body: html`<h1>Valider un fichier</h1>${form()}`, scripts: ['/ui/valider.js'] });
}

/** The result page (HTTP 200 even for an unreadable file: the page itself is the answer). */
export function validateResultPage(validator: TdduiValidator, text: string, name: string | undefined): { status: number; html: string } {
  const label = name ? `« ${name} »` : 'le contenu collé';
  const parsed = parseFile(text, name);
  if (!parsed.ok) {
    const body = html`<h1>Valider un fichier</h1>
<p class="error-box" id="resultat" data-valid="false">${parsed.message}</p>
<p class="muted">Fichier : ${label}</p>
${form()}`;
    return { status: 200, html: page({ title: 'Fichier illisible', section: 'valider', body, scripts: ['/ui/valider.js'] }) };
  }
  const t0 = performance.now();
  const report = validator.validate(parsed.resource);
  const ms = performance.now() - t0;
  const outcome = toOperationOutcome(report.issues);
  const counts = countIssues(issuesFromOutcome(outcome));
  const res = parsed.resource as { resourceType?: string; entry?: unknown[] };
  const body = html`<h1>Rapport de validation</h1>
<div class="card">
<p id="resultat" data-valid="${report.valid ? 'true' : 'false'}" class="${report.valid ? 'ok-box' : 'error-box'}">${report.valid ? `${label} est conforme : aucune erreur.` : `${label} n’est pas conforme : ${plural(counts.errors, 'erreur', 'erreurs')}.`}</p>
<table class="kv">
<tr><th>Fichier</th><td>${name ?? '(contenu collé)'} — ${parsed.format === 'xml' ? 'XML (converti en JSON pour les extraits)' : 'JSON'}</td></tr>
<tr><th>Ressource</th><td>${res.resourceType ?? ''}${res.resourceType === 'Bundle' && Array.isArray(res.entry) ? ` de ${plural(res.entry.length, 'entrée', 'entrées')}` : ''}</td></tr>
<tr><th>Version du guide</th><td class="ig">${igLabel(report.ig) ?? report.ig}</td></tr>
<tr><th>${report.profiles.length > 1 ? 'Profils' : 'Profil'}</th><td>${report.profiles.length ? report.profiles.map((p, i) => html`${i ? ', ' : ''}<code>${p}</code>`) : 'aucun (ressource de base)'}</td></tr>
<tr><th>Durée</th><td>${Math.round(ms)} ms</td></tr>
</table>
<p class="muted">Rien n’a été enregistré.</p>
</div>
${renderReport(outcome, parsed.resource)}
<h2>Valider un autre fichier</h2>
${form()}`;
  return { status: 200, html: page({ title: 'Rapport de validation', section: 'valider', body, scripts: ['/ui/valider.js'] }) };
}
