// Unit tests of the HTTP building blocks: negotiation, search query parsing, paging links, headers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { negotiateFormat } from './format.js';
import { FhirError } from './outcome.js';
import { etag, parseIfMatch, preferReturn } from './prefer.js';
import { MAX_COUNT, pagingLinks, parseHistory, parseSearch, queryPairs, splitValues } from './search.js';

function status(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof FhirError ? e.status : -1;
  }
}

describe('negotiateFormat', () => {
  it('JSON by default, _format before Accept, q-values, wildcards, fhirVersion', () => {
    assert.equal(negotiateFormat({}, undefined, true), 'json');
    assert.equal(negotiateFormat({}, '', true), 'json');
    assert.equal(negotiateFormat({ _format: 'xml' }, 'application/fhir+json', true), 'xml');
    assert.equal(negotiateFormat({ _format: 'application/fhir+json' }, 'application/fhir+xml', true), 'json');
    assert.equal(negotiateFormat({ _format: ['json', 'xml'] }, undefined, true), 'json');
    assert.equal(negotiateFormat({}, 'application/fhir+xml', true), 'xml');
    assert.equal(negotiateFormat({}, 'application/fhir+xml; fhirVersion=4.0', true), 'xml');
    assert.equal(negotiateFormat({}, 'application/json;q=0.5, application/xml', true), 'xml');
    assert.equal(negotiateFormat({}, 'application/xml;q=0.1, application/json;q=0.9', true), 'json');
    assert.equal(negotiateFormat({}, 'text/html,application/xhtml+xml,*/*;q=0.8', true), 'json');
    assert.equal(negotiateFormat({}, 'application/*', true), 'json');
    assert.equal(negotiateFormat({}, 'application/fhir+xml;fhirVersion=3.0, application/fhir+json', true), 'json');
  });
  it('406 when nothing offered is acceptable', () => {
    assert.equal(status(() => negotiateFormat({}, 'text/csv', true)), 406);
    assert.equal(status(() => negotiateFormat({}, 'application/json;q=0', true)), 406);
    assert.equal(status(() => negotiateFormat({ _format: 'turtle' }, undefined, true)), 406);
    assert.equal(status(() => negotiateFormat({}, 'application/fhir+xml', false)), 406);
    assert.equal(status(() => negotiateFormat({}, 'application/fhir+json;fhirVersion=5.0', true)), 406);
  });
});

describe('parseSearch', () => {
  it('parameters with modifiers and OR values; repeated parameters are AND', () => {
    const q = parseSearch('Patient', queryPairs('/fhir/Patient?name:contains=dup,mart&birthdate=ge1950-01-01&birthdate=lt1960-01-01&identifier=a%7Cb'));
    assert.deepEqual(q.params, [
      { name: 'name', modifier: 'contains', values: ['dup', 'mart'] },
      { name: 'birthdate', values: ['ge1950-01-01'] },
      { name: 'birthdate', values: ['lt1960-01-01'] },
      { name: 'identifier', values: ['a|b'] },
    ]);
    assert.equal(q.resourceType, 'Patient');
    assert.equal(q.count, 20);
    assert.equal(q.offset, 0);
    assert.equal(q.total, 'accurate');
  });
  it('escaped commas stay in the value; an unencoded + of a time zone is put back', () => {
    assert.deepEqual(splitValues('a\\,b,c'), ['a,b', 'c']);
    assert.deepEqual(splitValues('a\\|b'), ['a\\|b']);
    const q = parseSearch('Encounter', queryPairs('/fhir/Encounter?date=ge2024-01-01T10:00:00+02:00'));
    assert.deepEqual(q.params[0]!.values, ['ge2024-01-01T10:00:00+02:00']);
  });
  it('_include / _revinclude (with :iterate), _sort, _count bounded, _offset, _total, _summary=count', () => {
    const q = parseSearch(
      'Encounter',
      queryPairs('/x?_include=Encounter:subject:Patient&_include=*&_revinclude:iterate=Task:patient&_sort=-date,_lastUpdated&_count=5000&_offset=40&_total=none'),
    );
    assert.deepEqual(q.include, [
      { sourceType: 'Encounter', param: 'subject', targetType: 'Patient', iterate: false },
      { sourceType: 'Encounter', param: '*', iterate: false },
    ]);
    assert.deepEqual(q.revinclude, [{ sourceType: 'Task', param: 'patient', iterate: true }]);
    assert.deepEqual(q.sort, ['-date', '_lastUpdated']);
    assert.equal(q.count, MAX_COUNT);
    assert.equal(q.offset, 40);
    assert.equal(q.total, 'none');
    const c = parseSearch('Task', queryPairs('/x?_summary=count'));
    assert.equal(c.count, 0);
    assert.equal(c.total, 'accurate');
    assert.deepEqual(parseSearch('Task', queryPairs('/x?_format=xml&_pretty=true')).params, []);
  });
  it('400 on malformed result parameters; unsupported ones are refused, not ignored', () => {
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_count=-1'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_count=ten'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_offset=1.5'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_include=Task'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_include:deep=Task:patient'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_total=maybe'))), 400);
    // Issue 12: _summary=true|text|data and _elements are supported; malformed values are 400.
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_summary=maybe'))), 400);
    assert.equal(status(() => parseSearch('Task', queryPairs('/x?_elements=a.b'))), 400);
  });
  it('_history parameters', () => {
    assert.deepEqual(parseHistory('Patient', 'p1', queryPairs('/x?_count=3&_offset=6&_since=2024-01-01')), {
      count: 3,
      offset: 6,
      resourceType: 'Patient',
      id: 'p1',
      since: '2024-01-01T00:00:00.000Z',
    });
    assert.equal(status(() => parseHistory(undefined, undefined, queryPairs('/x?_since=yesterday'))), 400);
    assert.equal(status(() => parseHistory(undefined, undefined, queryPairs('/x?_at=2024'))), 400);
  });
});

describe('pagingLinks', () => {
  const ctx = { pageUrl: 'http://h/fhir/Task', pairs: [['status', 'active'], ['_count', '10'], ['_offset', '10']] as [string, string][], count: 10, offset: 10 };
  it('self, first, previous, next, last from the total', () => {
    const links = Object.fromEntries(pagingLinks({ ...ctx, total: 35, pageSize: 10 }).map((l) => [l.relation, l.url]));
    assert.equal(links.self, 'http://h/fhir/Task?status=active&_count=10&_offset=10');
    assert.equal(links.first, 'http://h/fhir/Task?status=active&_count=10&_offset=0');
    assert.equal(links.previous, 'http://h/fhir/Task?status=active&_count=10&_offset=0');
    assert.equal(links.next, 'http://h/fhir/Task?status=active&_count=10&_offset=20');
    assert.equal(links.last, 'http://h/fhir/Task?status=active&_count=10&_offset=30');
  });
  it('no next on the last page; without a total, next when the page is full', () => {
    const last = pagingLinks({ ...ctx, offset: 30, total: 35, pageSize: 5 }).map((l) => l.relation);
    assert.ok(!last.includes('next'));
    assert.ok(pagingLinks({ ...ctx, pageSize: 10 }).some((l) => l.relation === 'next'));
    assert.ok(!pagingLinks({ ...ctx, pageSize: 3 }).some((l) => l.relation === 'next'));
    assert.ok(!pagingLinks({ ...ctx, offset: 0, total: 0, pageSize: 0 }).some((l) => l.relation === 'next' || l.relation === 'previous'));
  });
});

describe('headers', () => {
  it('Prefer return=', () => {
    assert.equal(preferReturn(undefined), undefined);
    assert.equal(preferReturn('return=minimal'), 'minimal');
    assert.equal(preferReturn('handling=strict, return=representation'), 'representation');
    assert.equal(preferReturn('return=OperationOutcome'), 'OperationOutcome');
    assert.equal(preferReturn('return="minimal"'), 'minimal');
    assert.equal(preferReturn('return=everything'), undefined);
  });
  it('ETag and If-Match', () => {
    assert.equal(etag(3), 'W/"3"');
    assert.equal(parseIfMatch('W/"3"'), 3);
    assert.equal(parseIfMatch('"4"'), 4);
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(status(() => parseIfMatch('W/"abc"')), 400);
  });
});
