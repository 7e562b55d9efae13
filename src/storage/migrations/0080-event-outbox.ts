// The event outbox (issue 15): one row per event declared by a write — a séjour started, a
// document or a note added, a member added to a circle... — inserted by the write path in the
// SAME statement as the versions it is about (storage/outbox.ts), so there is no event without
// its data and no data without its event. The notification dispatcher reads it afterwards
// (a committed row stays until dispatched, whatever happens to the process in between).
//
// `tx` (the writing transaction's id, xid8) orders the rows for readers that page through them
// with a cursor: rows become visible in commit order, not in `seq` order, and every transaction
// below the snapshot's xmin has ended, so paging by (tx, seq) under that horizon never skips a
// row committed late (docs/notifications.md, "Change feed").

export const version = '0080-event-outbox';

export const statements: string[] = [
  `CREATE TABLE event_outbox (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    recorded timestamptz NOT NULL,
    occurred timestamptz NOT NULL,
    -- the event type: a JDV J46 code (TRE_R254) or one of the project's (rest/events.ts)
    system text NOT NULL,
    code text NOT NULL,
    -- 'Patient/<id>': the usager concerned (subscriptions and the circle rule filter on it)
    patient text,
    -- 'Type/id/_history/v': what the event is about
    focus text,
    -- who declared it: an IG module name, 'nde' for event declarations received
    source text NOT NULL,
    detail jsonb,
    -- set once the dispatcher has turned the event into notification requests
    dispatched timestamptz
  )`,
  `CREATE INDEX event_outbox_pending ON event_outbox (seq) WHERE dispatched IS NULL`,
  `CREATE INDEX event_outbox_patient ON event_outbox (patient, seq)`,
];
