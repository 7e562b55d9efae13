// Initial schema. Statements are run one by one, in order, inside one transaction.
// Search index tables are flat B-tree tables (not GIN): PGlite's planner handles them well.

export const version = '0001-initial';

export const statements: string[] = [
  // Current version of every resource (one row per resource_type + id).
  `CREATE TABLE resource (
    resource_type text NOT NULL,
    id text NOT NULL,
    version_id integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    owner text NOT NULL DEFAULT '',
    content jsonb NOT NULL,
    PRIMARY KEY (resource_type, id)
  )`,
  `CREATE INDEX resource_type_updated_idx ON resource (resource_type, last_updated)`,
  `CREATE INDEX resource_updated_idx ON resource (last_updated)`,
  `CREATE INDEX resource_owner_idx ON resource (owner, resource_type)`,

  // Every version, current one included (history and vread read only this table).
  `CREATE TABLE resource_history (
    resource_type text NOT NULL,
    id text NOT NULL,
    version_id integer NOT NULL,
    last_updated timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    content jsonb NOT NULL,
    PRIMARY KEY (resource_type, id, version_id)
  )`,
  `CREATE INDEX resource_history_type_updated_idx ON resource_history (resource_type, last_updated)`,
  `CREATE INDEX resource_history_updated_idx ON resource_history (last_updated)`,

  // Search index of the current versions. `param` is the search parameter name.
  `CREATE TABLE search_token (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    system text,
    code text NOT NULL
  )`,
  `CREATE INDEX search_token_code_idx ON search_token (resource_type, param, code, system)`,
  `CREATE INDEX search_token_res_idx ON search_token (resource_type, id)`,

  // value: lower-cased, accents removed (default and :contains); exact: as sent (:exact).
  `CREATE TABLE search_string (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    value text NOT NULL,
    exact text NOT NULL
  )`,
  `CREATE INDEX search_string_value_idx ON search_string (resource_type, param, value text_pattern_ops)`,
  `CREATE INDEX search_string_res_idx ON search_string (resource_type, id)`,

  // A date, dateTime, instant or Period as the closed range [low, high] it covers.
  `CREATE TABLE search_date (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    low timestamptz NOT NULL,
    high timestamptz NOT NULL
  )`,
  `CREATE INDEX search_date_low_idx ON search_date (resource_type, param, low)`,
  `CREATE INDEX search_date_high_idx ON search_date (resource_type, param, high)`,
  `CREATE INDEX search_date_res_idx ON search_date (resource_type, id)`,

  // A reference: relative `Type/id` (target_type + target_id) or anything else (url: absolute
  // URL, canonical). target_type is NULL when the reference does not name its type.
  `CREATE TABLE search_reference (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    target_type text,
    target_id text,
    url text
  )`,
  `CREATE INDEX search_reference_target_idx ON search_reference (target_id, target_type, param)`,
  `CREATE INDEX search_reference_url_idx ON search_reference (url)`,
  `CREATE INDEX search_reference_res_idx ON search_reference (resource_type, id)`,

  // Resend matching: the business key of a business object within the submitting organisation.
  `CREATE TABLE business_key (
    owner text NOT NULL,
    resource_type text NOT NULL,
    system text NOT NULL,
    value text NOT NULL,
    id text NOT NULL,
    CONSTRAINT business_key_unique UNIQUE (owner, resource_type, system, value)
  )`,
  `CREATE INDEX business_key_res_idx ON business_key (resource_type, id)`,

  // Every received transaction Bundle, accepted or rejected.
  `CREATE TABLE submission (
    id text PRIMARY KEY,
    received_at timestamptz NOT NULL,
    organization_finess text,
    organization_name text,
    usagers jsonb NOT NULL DEFAULT '[]',
    resource_count integer NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    http_status integer NOT NULL,
    error_count integer NOT NULL,
    warning_count integer NOT NULL,
    bundle jsonb,
    report jsonb,
    response jsonb
  )`,
  `CREATE INDEX submission_received_idx ON submission (received_at DESC, id DESC)`,
  `CREATE INDEX submission_org_idx ON submission (organization_finess, received_at DESC)`,
  `CREATE INDEX submission_outcome_idx ON submission (outcome, received_at DESC)`,
];
