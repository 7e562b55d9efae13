// The delivery journal of notifications (issue 15): one row per (event, subscription) — the NdE
// notification request produced for that subscription — with its delivery state, and one row per
// digest (a daily or weekly message gathering the events of its period). Rows are created by the
// dispatcher in the same transaction that marks the outbox row dispatched, so a crash between
// the two leaves the event pending, never half-dispatched; UNIQUE (event_id, subscription_id)
// makes a second dispatch of one event a no-op.

export const version = '0081-notification';

export const statements: string[] = [
  `CREATE TABLE notification (
    id text PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    -- the event (event_outbox.id), or NULL for a digest
    event_id text,
    subscription_id text NOT NULL,
    -- the subscriber's reference or display (the UI's "my notifications")
    subscriber text,
    patient text,
    -- rest-hook | email | sms | websocket
    channel text NOT NULL,
    endpoint text,
    -- immediate | daily | weekly (digest rows: their frequency)
    frequency text NOT NULL,
    -- held (waits for its digest) | pending | failed (retried) | sent | parked | digested
    status text NOT NULL,
    -- digest rows: the end of the period they gather; held rows: the digest they wait for
    due timestamptz,
    digest_id text,
    created timestamptz NOT NULL,
    next_attempt timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at timestamptz,
    -- the NdE notification request (CommunicationRequest), or for a digest the list of event ids
    payload jsonb NOT NULL,
    UNIQUE (event_id, subscription_id)
  )`,
  `CREATE INDEX notification_todo ON notification (next_attempt) WHERE status IN ('pending', 'failed')`,
  `CREATE INDEX notification_held ON notification (subscription_id, due) WHERE status = 'held'`,
  `CREATE INDEX notification_subscription ON notification (subscription_id, seq)`,
  // a delivery attempt: when, result, HTTP status or error (the journal's detail)
  `CREATE TABLE notification_attempt (
    notification_id text NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    ok boolean NOT NULL,
    detail text,
    PRIMARY KEY (notification_id, attempt)
  )`,
];
