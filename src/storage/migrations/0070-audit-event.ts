// The audit trail (issue 18): one row per access to health data — read, search, write, export,
// refusal — rendered as a FHIR AuditEvent on the way out (src/server/audit-event.ts). Rows,
// not AuditEvent JSON: the write is the hot path (every ingested Bundle adds one), the FHIR
// shape is built only when someone reads the trail. Append-only: nothing updates a row.

export const version = '0070-audit-event';

export const statements: string[] = [
  `CREATE TABLE audit_event (
    id text PRIMARY KEY,
    recorded timestamptz NOT NULL,
    -- read | search | write | export (what was attempted; a refusal is a failed outcome)
    kind text NOT NULL,
    -- AuditEvent.action: C R U D E
    action text NOT NULL,
    -- restful-interaction code (read, search-type, transaction…) or 'export'
    subtype text NOT NULL,
    -- AuditEvent.outcome: 0 success, 4 minor failure (refused, rejected), 8 serious failure (5xx)
    outcome smallint NOT NULL,
    http_status smallint NOT NULL,
    outcome_text text,
    -- 'fhir' (the REST API) or 'ui' (the web pages)
    channel text NOT NULL,
    agent_subject text,
    agent_client text,
    agent_organisations text[] NOT NULL DEFAULT '{}',
    token_id text,
    source_ip text,
    method text NOT NULL,
    path text NOT NULL,
    query text,
    entity_type text,
    entity_id text,
    -- Patient ids the access concerned (the usagers read, searched or written)
    patients text[] NOT NULL DEFAULT '{}',
    request_id text
  )`,
  `CREATE INDEX audit_event_recorded ON audit_event (recorded DESC, id)`,
  `CREATE INDEX audit_event_agent ON audit_event (agent_subject, recorded DESC)`,
  `CREATE INDEX audit_event_patients ON audit_event USING gin (patients)`,
];
