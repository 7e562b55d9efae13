import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLES_DIR } from '../../testing/paths.js';
import { FhirXmlError, jsonToXml, xmlToJson } from './index.js';
import { seededInt } from '../../testing/random.js';

const FHIR = 'xmlns="http://hl7.org/fhir"';
const XHTML = 'http://www.w3.org/1999/xhtml';

function exampleFiles(): string[] {
  return readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
}

function load(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLES_DIR, name), 'utf8')) as Record<string, unknown>;
}

/** Offsets of the given tags in the XML, asserting they appear in this order. */
function assertOrder(xml: string, tags: string[]): void {
  let last = -1;
  for (const t of tags) {
    const at = xml.indexOf(t, last + 1);
    assert.ok(at > last, `${t} expected after the previous tag in ${xml}`);
    last = at;
  }
}

function xmlError(fn: () => unknown, re: RegExp): FhirXmlError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FhirXmlError, `expected FhirXmlError, got ${String(caught)}`);
  assert.match(caught.message, re);
  return caught;
}

describe('JSON → XML → JSON on the official TDDUI examples', () => {
  const files = exampleFiles();
  it('finds the examples', () => {
    assert.ok(files.length >= 40, `only ${files.length} examples in ${EXAMPLES_DIR}`);
    assert.ok(files.includes('Bundle-tddui-bundle-example.json'));
    assert.ok(files.includes('Bundle-tddui-pp-pa-bundle-example.json'));
  });
  for (const f of files) {
    it(f, () => {
      const json = load(f);
      const xml = jsonToXml(json);
      assert.ok(xml.startsWith(`<?xml version="1.0" encoding="UTF-8"?><${json.resourceType} ${FHIR}>`));
      assert.deepStrictEqual(xmlToJson(xml), json);
      // Same result through the indented form.
      assert.deepStrictEqual(xmlToJson(jsonToXml(json, { pretty: true })), json);
    });
  }

  it('wraps Bundle entries in <resource> and keeps base64 data as a value attribute', () => {
    const bundle = load('Bundle-tddui-pp-pa-bundle-example.json') as { entry: { resource: Record<string, unknown> }[] };
    const xml = jsonToXml(bundle);
    const first = bundle.entry[0].resource.resourceType as string;
    assert.ok(xml.includes(`<entry><fullUrl value=`));
    assert.ok(xml.includes(`<resource><${first}>`), 'entry resource wrapped');
    const doc = load('DocumentReference-tddui-pp-pa-documentreference-entrant-example.json') as {
      content: { attachment: { data: string } }[];
    };
    const data = doc.content[0].attachment.data;
    assert.ok(data.length > 20);
    const dx = jsonToXml(doc);
    assert.ok(dx.includes(`<attachment><contentType value=`) || dx.includes('<attachment>'));
    assert.ok(dx.includes(`<data value="${data}"/>`));
    assert.equal((xmlToJson(dx) as unknown as typeof doc).content[0].attachment.data, data);
  });
});

describe('element order and representation', () => {
  it('writes elements in StructureDefinition order whatever the JSON key order', () => {
    const patient = {
      birthDate: '1947-04-03',
      gender: 'male',
      name: [{ given: ['Jean'], family: 'DUPONT', use: 'official' }],
      active: true,
      identifier: [{ value: '1', system: 'urn:x' }],
      extension: [{ valueString: 'x', url: 'http://e' }],
      text: { div: `<div xmlns="${XHTML}">Jean</div>`, status: 'generated' },
      meta: { profile: ['http://p'] },
      id: 'p1',
      resourceType: 'Patient',
    };
    const xml = jsonToXml(patient, { declaration: false });
    assertOrder(xml, ['<Patient', '<id value="p1"/>', '<meta>', '<text>', '<status', '<div', '<extension url="http://e">', '<valueString value="x"/>', '<identifier>', '<system value="urn:x"/>', '<value value="1"/>', '<active value="true"/>', '<name>', '<use', '<family', '<given', '<gender', '<birthDate']);
    assert.deepStrictEqual(xmlToJson(xml), patient);
  });

  it('merges _x id/extensions into the primitive element, arrays aligned with null', () => {
    const patient = {
      resourceType: 'Patient',
      name: [{ given: ['A', null, 'C'], _given: [null, { extension: [{ url: 'http://x', valueCode: 'masked' }] }, { id: 'g3' }] }],
      birthDate: '2001-02-03',
      _birthDate: { id: 'bd', extension: [{ url: 'http://t', valueDateTime: '2001-02-03T04:05:06+01:00' }] },
    };
    const xml = jsonToXml(patient, { declaration: false });
    assert.ok(xml.includes('<given value="A"/><given><extension url="http://x"><valueCode value="masked"/></extension></given><given id="g3" value="C"/>'), xml);
    assert.ok(xml.includes('<birthDate id="bd" value="2001-02-03"><extension url="http://t">'));
    assert.deepStrictEqual(xmlToJson(xml), patient);
  });

  it('restores numbers, booleans and single values vs arrays', () => {
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 't' },
      valueQuantity: { value: 12.75, unit: 'kg' },
      component: [{ code: { text: 'c' }, valueInteger: -3 }, { code: { text: 'd' }, valueBoolean: false }],
      referenceRange: [{ low: { value: 0.001 } }],
    };
    const xml = jsonToXml(obs, { declaration: false });
    assert.ok(xml.includes('<valueQuantity><value value="12.75"/><unit value="kg"/></valueQuantity>'));
    const back = xmlToJson(xml) as unknown as typeof obs;
    assert.deepStrictEqual(back, obs);
    assert.equal(typeof back.component[0].valueInteger, 'number');
    assert.equal(back.component[1].valueBoolean, false);
    // A decimal written with trailing zeros keeps its value (JSON numbers cannot keep the zeros).
    const parsed = xmlToJson(`<Observation ${FHIR}><status value="final"/><code><text value="t"/></code><valueQuantity><value value="1.50"/></valueQuantity></Observation>`) as unknown as typeof obs;
    assert.equal(parsed.valueQuantity.value, 1.5);
  });

  it('wraps contained and Parameters.parameter.resource resources', () => {
    const params = {
      resourceType: 'Parameters',
      parameter: [{ name: 'r', resource: { resourceType: 'Patient', id: 'x', contained: [{ resourceType: 'Organization', id: 'o', name: 'Org' }] } }, { name: 'n', valueInteger: 1 }],
    };
    const xml = jsonToXml(params, { declaration: false });
    assert.equal(
      xml,
      `<Parameters ${FHIR}><parameter><name value="r"/><resource><Patient><id value="x"/><contained><Organization><id value="o"/><name value="Org"/></Organization></contained></Patient></resource></parameter><parameter><name value="n"/><valueInteger value="1"/></parameter></Parameters>`,
    );
    assert.deepStrictEqual(xmlToJson(xml), params);
  });

  it('keeps the narrative XHTML verbatim, escapes attribute values', () => {
    const div = `<div xmlns="${XHTML}"><p class="a">Jean &amp; Marie &lt;3</p><br/>\n  <b>x</b></div>`;
    const patient = { resourceType: 'Patient', text: { status: 'generated', div }, name: [{ text: 'a "b" & <c>\nline2\ttab' }] };
    const xml = jsonToXml(patient, { declaration: false });
    assert.ok(xml.includes(`<status value="generated"/>${div}</text>`));
    assert.ok(xml.includes('<text value="a &quot;b&quot; &amp; &lt;c&gt;&#xA;line2&#x9;tab"/>'));
    assert.deepStrictEqual(xmlToJson(xml), patient);
  });

  it('reads a div whose namespace is declared by prefix or outside it', () => {
    const xml = `<Patient ${FHIR} xmlns:h="${XHTML}"><text><status value="generated"/><h:div><h:p>Hé</h:p></h:div></text></Patient>`;
    assert.deepStrictEqual(xmlToJson(xml), { resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="${XHTML}"><p>Hé</p></div>` } });
  });

  it('reads XML in any element order, with comments, CDATA-free whitespace, prefixes and CRLF', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\r\n<!-- a comment -->\r\n<f:Patient xmlns:f="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x">\r\n  <f:gender value="female"/>\r\n  <!-- inside -->\r\n  <f:id value="a"/>\r\n</f:Patient>`;
    const json = xmlToJson(xml);
    assert.deepStrictEqual(json, { resourceType: 'Patient', id: 'a', gender: 'female' });
    assert.deepStrictEqual(Object.keys(json), ['resourceType', 'id', 'gender']);
  });
});

describe('errors', () => {
  it('not well-formed XML, with line and column', () => {
    const e = xmlError(() => xmlToJson(`<Patient ${FHIR}>\n  <id value="a">\n</Patient>`), /end tag <\/Patient> does not match <id>/);
    assert.equal(e.line, 3);
    assert.equal(e.column, 1);
    xmlError(() => xmlToJson(''), /no root element/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><id value="a & b"/></Patient>`), /entity reference/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><id value="a"/></Patient><x/>`), /after the root/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><id value="a" value="b"/></Patient>`), /duplicate attribute/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><text><status value="generated"/><div xmlns="${XHTML}">&nbsp;</div></text></Patient>`), /unknown entity &nbsp;/);
  });

  it('refuses DTDs (no entity expansion)', () => {
    xmlError(() => xmlToJson(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Patient ${FHIR}/>`), /DTDs/);
  });

  it('wrong or missing namespace', () => {
    xmlError(() => xmlToJson('<Patient><id value="a"/></Patient>'), /namespace "", expected "http:\/\/hl7.org\/fhir"/);
    xmlError(() => xmlToJson('<Patient xmlns="http://hl7.org/fhir/x"/>'), /expected "http:\/\/hl7.org\/fhir"/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><id xmlns="urn:other" value="a"/></Patient>`), /namespace "urn:other"/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><text><status value="generated"/><div><p/></div></text></Patient>`), /XHTML <div>/);
  });

  it('unknown element, attribute or resource type, with location', () => {
    const e = xmlError(() => xmlToJson(`<Patient ${FHIR}>\n<name>\n  <foo value="x"/>\n</name></Patient>`), /unknown element <foo> in HumanName/);
    assert.equal(e.line, 3);
    assert.equal(e.column, 3);
    assert.equal(e.path, 'Patient.name[0].foo');
    xmlError(() => xmlToJson(`<Unicorn ${FHIR}/>`), /unknown resource type <Unicorn>/);
    xmlError(() => xmlToJson(`<DomainResource ${FHIR}/>`), /unknown resource type/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><gender value="male" foo="1"/></Patient>`), /unknown attribute "foo"/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><gender>male</gender></Patient>`), /text is not allowed/);
  });

  it('bad values and cardinalities', () => {
    xmlError(() => xmlToJson(`<Patient ${FHIR}><active value="yes"/></Patient>`), /invalid boolean "yes"/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><multipleBirthInteger value="1.5"/></Patient>`), /invalid integer "1.5"/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><gender value="male"/><gender value="female"/></Patient>`), /cannot repeat/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><deceasedBoolean value="true"/><deceasedDateTime value="2020"/></Patient>`), /only one of deceased\[x\]/);
    xmlError(() => xmlToJson(`<Patient ${FHIR}><gender/></Patient>`), /neither a value attribute nor extensions/);
    xmlError(() => xmlToJson(`<Bundle ${FHIR}><type value="collection"/><entry><resource/></entry></Bundle>`), /exactly one resource/);
  });

  it('JSON that has no XML form', () => {
    xmlError(() => jsonToXml({ resourceType: 'Patient', foo: 1 }), /unknown element "foo" in Patient/);
    xmlError(() => jsonToXml({ resourceType: 'Nope' }), /unknown resourceType/);
    xmlError(() => jsonToXml({ resourceType: 'Patient', active: 'yes' }), /boolean must be a JSON boolean/);
    xmlError(() => jsonToXml({ resourceType: 'Patient', gender: ['male'] }), /cannot repeat/);
    xmlError(() => jsonToXml({ resourceType: 'Patient', deceasedBoolean: true, deceasedDateTime: '2020' }), /only one of deceased/);
    xmlError(() => jsonToXml({ resourceType: 'Patient', name: [{ given: [null] }] }), /neither a value nor extensions/);
    xmlError(() => jsonToXml({ resourceType: 'Patient', name: [{ text: 'a\u0001b' }] }), /character that XML cannot carry/);
    // A div string must not be able to inject FHIR markup.
    const e = xmlError(
      () => jsonToXml({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="${XHTML}">x</div></text><active value="true"/><text><div xmlns="${XHTML}">y</div>` } }),
      /not well-formed XHTML/,
    );
    assert.equal(e.path, 'Patient.text.div');
  });
});

describe('robustness', () => {
  it('mutated XML of the official Bundles fails only with FhirXmlError (seeded)', () => {
    const rnd = seededInt(42);
    const sources = ['Bundle-tddui-bundle-example.json', 'Bundle-tddui-pp-pa-bundle-example.json'].map((f) => jsonToXml(load(f), { pretty: true }));
    const junk = ['<', '>', '&', '"', '/', '</x>', '<!--', ']]>', '<![CDATA[', '&#0;', '&amp', 'value="', ' ', 'xmlns="urn:x"', '<extension>'];
    let parsed = 0;
    for (let i = 0; i < 400; i++) {
      let s = sources[i % 2];
      for (let k = 1 + rnd(3); k > 0; k--) {
        const at = rnd(s.length);
        const kind = rnd(3);
        if (kind === 0) s = s.slice(0, at) + s.slice(at + 1 + rnd(20));
        else if (kind === 1) s = s.slice(0, at) + junk[rnd(junk.length)] + s.slice(at);
        else s = s.slice(0, at) + s.slice(rnd(s.length), rnd(s.length)) + s.slice(at);
      }
      try {
        xmlToJson(s);
        parsed++;
      } catch (e) {
        assert.ok(e instanceof FhirXmlError, `mutation ${i}: ${(e as Error).stack}`);
      }
    }
    // Most mutations break the document; a few (inside values) still parse.
    assert.ok(parsed < 400);
  });

  it('JSON with values of the wrong kind fails only with FhirXmlError, and what passes round-trips', () => {
    const rnd = seededInt(7);
    const replacements: unknown[] = [null, 1, 'x', true, {}, [], [null], { a: 1 }, ['x'], 1.5, { extension: 'x' }];
    const base = load('Bundle-tddui-pp-pa-bundle-example.json');
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const doc = structuredClone(base);
      // Walk to a random node and replace one of its members.
      let node: any = doc;
      for (let depth = 0; depth < 8; depth++) {
        const keys = Object.keys(node);
        if (!keys.length) break;
        const k = keys[rnd(keys.length)];
        if (typeof node[k] !== 'object' || node[k] === null || rnd(4) === 0) {
          node[k] = structuredClone(replacements[rnd(replacements.length)]);
          break;
        }
        node = node[k];
      }
      let xml: string;
      try {
        xml = jsonToXml(doc);
      } catch (e) {
        assert.ok(e instanceof FhirXmlError, `mutation ${i}: ${(e as Error).stack}`);
        rejected++;
        continue;
      }
      assert.doesNotThrow(() => xmlToJson(xml), `mutation ${i}: our own XML must parse`);
    }
    assert.ok(rejected > 50, `only ${rejected} rejected`);
  });
});
