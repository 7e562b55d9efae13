// The counts' slots (D-306, migration 0183; `usager_count` too, 0198): a writing transaction adds
// its differences to a count row of the slot it holds — the first of SLOTS whose transaction-scoped
// advisory lock `pilotage-slot:n` is free, tried without waiting — so concurrent writes of one
// facility never wait on one count row. One protocol for every kept count: the same locks, the
// same number of slots.

/** How many slots a count is spread over. */
export const SLOTS = 16;

/**
 * The PL/pgSQL that takes a slot into `v_slot` (a smallint the function declares), kept to COMMIT
 * (a second call in the same transaction finds its own lock free again: the same slot); lines
 * indented by `indent`.
 */
export function claimSlotSql(indent: string): string {
  return [
    `v_slot := pg_backend_pid() % ${SLOTS};`,
    `FOR s IN 0..${SLOTS - 1} LOOP`,
    `  IF pg_try_advisory_xact_lock(hashtextextended('pilotage-slot:' || s, 0)) THEN`,
    `    v_slot := s;`,
    `    EXIT;`,
    `  END IF;`,
    `END LOOP;`,
  ].map((l) => indent + l).join('\n');
}
