// The narrative check (narrative.ts) on its own, then through the validator: where the
// findings land, and that constraints of primitive elements other than the narrative's run too.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/fhir/validation/narrative.test.js
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SHARED_FHIR } from '../../testing/paths.js';
import { TdduiValidator } from '../../tddui/validator.js';
import { checkNarrative } from './narrative.js';
import { seededInt } from '../../testing/random.js';

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';
const div = (inner: string, attrs = '') => `<div ${NS}${attrs}>${inner}</div>`;
const problems = (d: string) => checkNarrative(d).map((f) => f.problem);

describe('checkNarrative', () => {
  test('accepts what generated narratives use', () => {
    const ok = [
      div('<p>Jean <b>DUPONT</b>, né le 01/02/1950</p>'),
      div('<table class="grid"><thead><tr><th colspan="2">Séjour</th></tr></thead><tbody><tr><td>Début</td><td>2023-04-14</td></tr></tbody></table>'),
      div('<h3>Projet</h3><ul><li>Objectif 1</li></ul><ol start="2"><li>b</li></ol><dl><dt>GIR</dt><dd>2</dd></dl>'),
      div('<a href="https://annuaire.sante.fr/" title="annuaire">lien</a> <a name="ancre">x</a> <span style="color: red">!</span>'),
      div('<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo"/>'),
      div('<p>a&#160;b &amp; c &lt; d&#x2014;</p><br/><hr/><pre>  x </pre><address>1 rue</address><bdo dir="rtl">x</bdo><kbd>k</kbd>'),
      div('<p>x</p>', ' xml:lang="fr-FR" lang="fr-FR" id="n1"'),
      `  ${div('<!-- commentaire --><p>x</p>')}\n`,
      div(`<div ${NS}><p>inner redeclares the same namespace</p></div>`),
    ];
    for (const d of ok) assert.deepEqual(checkNarrative(d), [], d);
  });

  test('the root: one div in the XHTML namespace', () => {
    assert.deepEqual(problems('<div><p>x</p></div>'), ['root']);
    assert.deepEqual(problems('<div xmlns="http://www.w3.org/1999/xhtml2"><p>x</p></div>'), ['root']);
    assert.deepEqual(problems('texte libre'), ['root']);
    assert.deepEqual(problems(`<p ${NS}>x</p>`), ['root']);
    assert.deepEqual(problems(`<?xml version="1.0"?>${div('x')}`), ['root']);
    assert.deepEqual(problems(`<h:div xmlns:h="http://www.w3.org/1999/xhtml">x</h:div>`), ['root']);
    assert.match(checkNarrative('<div><p>x</p></div>')[0].detail, /no namespace/);
  });

  test('well-formedness, with line and column, and HTML entities named', () => {
    assert.deepEqual(problems(div('<p>x')), ['syntax']);
    assert.deepEqual(problems(div('<p>x</b>')), ['syntax']);
    assert.deepEqual(problems(div('<p class=x>y</p>')), ['syntax']);
    assert.deepEqual(problems(div('a & b')), ['syntax']);
    assert.deepEqual(problems(`${div('x')}<p>after</p>`), ['syntax']);
    assert.deepEqual(problems(`<!DOCTYPE div>${div('x')}`), ['root']);
    const nbsp = checkNarrative(`<div ${NS}>\n<p>a&nbsp;b</p></div>`)[0];
    assert.equal(nbsp.problem, 'syntax');
    assert.match(nbsp.detail, /&nbsp;.*&#160;.*\(line 2, column 5 of the div\)/);
  });

  test('txt-1: elements, attributes, namespaces and links that narrative does not allow', () => {
    const bad: [string, RegExp][] = [
      [div('<script>alert(1)</script><p>x</p>'), /<script>/],
      [div('<p>x</p><iframe src="https://x"/>'), /<iframe>/],
      [div('<form><p>x</p></form>'), /<form>/],
      [div('<p>x</p><object data="x"/>'), /<object>/],
      [div('<style>p{}</style><p>x</p>'), /<style>/],
      [div('<p>x</p><link rel="stylesheet" href="x.css"/>'), /<link>/],
      [div('<p onclick="x()">x</p>'), /onclick.*event handlers/],
      [div('<p onMouseOver="x()">x</p>'), /onMouseOver/],
      [div('<a href="javascript:alert(1)">x</a>'), /run code/],
      [div('<a href="  JaVa\tScRiPt:alert(1)">x</a>'), /run code/],
      [div('<img src="data:text/html;base64,PHNjcmlwdD4=" alt=""/><p>x</p>'), /run code/],
      [div('<p>x</p><svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>'), /namespace "http:\/\/www.w3.org\/2000\/svg"/],
      [div('<p xmlns:x="urn:x" x:a="1">x</p>'), /xmlns:x/],
      [div('<p data-id="1">x</p>'), /attribute data-id/],
    ];
    for (const [d, message] of bad) {
      const found = checkNarrative(d).filter((f) => f.problem === 'content');
      assert.ok(found.length >= 1, d);
      assert.ok(found.some((f) => message.test(f.detail)), `${d}: ${found.map((f) => f.detail).join('; ')}`);
    }
    // One bad template: at most 10 findings, not one per row.
    assert.equal(checkNarrative(div('<p onclick="x()">x</p>'.repeat(50))).length, 10);
  });

  test('txt-2: some text or an image', () => {
    assert.deepEqual(problems(div('')), ['empty']);
    assert.deepEqual(problems(div('<p>  </p>\n<br/>')), ['empty']);
    assert.deepEqual(problems(div('<img src="" alt="x"/>')), ['empty']);
    assert.deepEqual(problems(div('<img src="#logo"/>')), []);
    assert.deepEqual(problems(div('<table><tr><td>x</td></tr></table>')), []);
  });
});

test('never throws: 5,000 random fragments of (X)HTML, each gets a list of known findings', () => {
  const pick = seededInt(20261201);
  const pieces = [
    '<p>', '</p>', '<b>', '</b>', '<script>', '</script>', '<br/>', '<img src="#a"/>', '<a href="javascript:x">', '</a>', 'texte', ' ', '\n', '&amp;', '&nbsp;',
    '&#160;', '&#xZZ;', '&', '<', '>', '"', "'", '<!--', '-->', '<![CDATA[x]]>', '<?pi x?>', '<!DOCTYPE x>', '<p class="a" class="b">', '<p onclick=x>', '<x:y>',
    '</x:y>', `<div ${NS}>`, '</div>', '<svg xmlns="http://www.w3.org/2000/svg">', '</svg>', '\u0000', '\uD800', 'é', '<td colspan="2">', '</td>', '<p xml:lang="fr">',
  ];
  const known = new Set(['syntax', 'root', 'content', 'empty']);
  const seen = new Map<string, number>();
  // Well-formed trees of allowed and forbidden elements and attributes, half of the time.
  const names = ['p', 'b', 'span', 'table', 'tr', 'td', 'ul', 'li', 'img', 'script', 'form', 'iframe', 'font', 'a'];
  const attrs = ['', ' class="c"', ' style="x"', ' onclick="x()"', ' href="javascript:void(0)"', ' href="https://x"', ' src="#i"', ' data-x="1"', ' xml:lang="fr"'];
  const texts = ['', '', ' ', 'texte', '&#160;', '&lt;'];
  const tree = (depth: number): string => {
    let out = texts[pick(texts.length)];
    const n = depth > 3 ? 0 : pick(3);
    for (let k = 0; k < n; k++) {
      const name = names[pick(names.length)];
      out += `<${name}${attrs[pick(attrs.length)]}>${tree(depth + 1)}</${name}>`;
    }
    return out;
  };
  for (let n = 0; n < 5000; n++) {
    let d: string;
    if (pick(2) === 0) {
      d = `<div ${NS}>${tree(0)}</div>`;
    } else {
      d = pick(4) === 0 ? '' : `<div ${NS}>`;
      const len = pick(12);
      for (let k = 0; k < len; k++) d += pieces[pick(pieces.length)];
      if (pick(3) > 0) d += '</div>';
    }
    const findings = checkNarrative(d);
    assert.ok(Array.isArray(findings) && findings.length <= 11, d);
    for (const f of findings) assert.ok(known.has(f.problem) && typeof f.detail === 'string' && f.detail.length > 0, `${d}: ${JSON.stringify(f)}`);
    const kind = findings[0]?.problem ?? 'valid';
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
  }
  // The generator reaches every outcome, valid ones included (else the test would prove little).
  for (const kind of [...known, 'valid']) assert.ok((seen.get(kind) ?? 0) >= 20, `${kind}: ${seen.get(kind) ?? 0} of 5,000`);
});

describe('narrative and primitive constraints in the validator', () => {
  let v: TdduiValidator;
  before(async () => {
    v = await TdduiValidator.create({ packages: [SHARED_FHIR] });
  });
  const errors = (resource: unknown) =>
    v.engine.validator.validate(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal').map((i) => [i.rule, i.expression]);

  test('findings are at the div, in a resource, a contained resource and a Bundle entry', () => {
    const org = (d: string) => ({ resourceType: 'Organization', name: 'SSIAD', text: { status: 'generated', div: d } });
    assert.deepEqual(errors(org(div('<p>SSIAD</p>'))), []);
    assert.deepEqual(errors(org(div('<script>x</script><p>SSIAD</p>'))), [['fhir-narrative-content', 'Organization.text.div']]);
    const patient = { resourceType: 'Patient', contained: [{ ...org('<div>x</div>'), id: 'o' }], managingOrganization: { reference: '#o' } };
    assert.deepEqual(errors(patient), [['fhir-narrative-root', 'Patient.contained[0].text.div']]);
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:6f1c1b2e-8f3a-4a51-9a36-0f2b1f0c1d11', resource: org(div('')) }] };
    assert.deepEqual(errors(bundle), [['fhir-narrative-empty', 'Bundle.entry[0].resource.text.div']]);
  });

  test('constraints of other primitive elements are evaluated (eld-3 on ElementDefinition.max)', () => {
    const sd = (max: string) => ({
      resourceType: 'StructureDefinition',
      url: 'https://example.org/StructureDefinition/x',
      name: 'X',
      status: 'draft',
      kind: 'resource',
      abstract: false,
      type: 'Patient',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
      derivation: 'constraint',
      differential: { element: [{ id: 'Patient.name', path: 'Patient.name', max }] },
    });
    // Also: eld-20's regex has `\'` escapes, a syntax error under the `u` flag (was an internal error).
    assert.deepEqual(errors(sd('*')), []);
    assert.deepEqual(errors(sd('2')), []);
    assert.deepEqual(errors(sd('-1')), [['fhir-invariant', 'StructureDefinition.differential.element[0].max']]);
    // `'x'.toInteger()` is empty, so the whole expression is: empty fails, as in the HL7 validator (D-19).
    assert.deepEqual(errors(sd('x')), [['fhir-invariant', 'StructureDefinition.differential.element[0].max']]);
  });
});
