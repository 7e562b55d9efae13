// Shared agendas (issue 16): where the usager's agenda follows the TDDUI agenda events (the
// cursor of the change feed it has read, so a restart neither misses nor replays an event), and
// the private iCalendar feeds (a token per feed, kept as its SHA-256 only; revoked feeds stay
// listed with their revocation time).

export const version = '0090-agenda';

export const statements: string[] = [
  `CREATE TABLE agenda_sync (
    name text PRIMARY KEY,
    cursor text NOT NULL,
    updated timestamptz NOT NULL
  )`,
  `CREATE TABLE agenda_feed (
    token_hash text PRIMARY KEY,
    -- the agenda's owner: Patient/…, Practitioner/… or PractitionerRole/…
    subject text NOT NULL,
    label text NOT NULL DEFAULT '',
    created timestamptz NOT NULL,
    revoked timestamptz
  )`,
  `CREATE INDEX agenda_feed_subject ON agenda_feed (subject)`,
];
