// The usager's agenda from the DUI's data: every TDDUI agenda event (Encounter declaring
// `tddui-encounter-evenement`) is kept in step as an Appointment of that usager — created on
// the first version, updated with each new one, cancelled when the event is cancelled or
// deleted. The Encounter stays the record; the Appointment carries its identifier
// (`urn:tddui:agenda:evenement|Encounter/<id>`) and points back to it (supportingInformation).
//
// It follows the durable change feed (storage/changes.ts) from a cursor kept in the database
// (migration 0090), so a restart neither misses nor replays an event, and writes through the
// one write path (a conditional update on that identifier: idempotent, no-op when unchanged).
import { isObject, type FhirResource } from '../../fhir/json.js';
import { changeCursor, changeCursorText, parseChangeCursor, readChanges } from '../../storage/changes.js';
import type { Repository } from '../../storage/types.js';
import { refOf } from './availability.js';

export const EVENT_PROFILE = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-encounter-evenement';
export const FROM_EVENT_SYSTEM = 'urn:tddui:agenda:evenement';
const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/';
const SYNC_NAME = 'usager-agenda';

/** Encounter.status -> Appointment.status. */
const STATUS: Record<string, string> = {
  planned: 'booked',
  arrived: 'arrived',
  triaged: 'arrived',
  'in-progress': 'arrived',
  onleave: 'arrived',
  finished: 'fulfilled',
  cancelled: 'cancelled',
  'entered-in-error': 'entered-in-error',
  unknown: 'booked',
};

export function isAgendaEvent(r: FhirResource | undefined): boolean {
  const profiles = r && isObject(r.meta) && Array.isArray(r.meta.profile) ? r.meta.profile : [];
  return r?.resourceType === 'Encounter' && profiles.some((p) => typeof p === 'string' && p.split('|')[0] === EVENT_PROFILE);
}

function extString(r: FhirResource, name: string): string | undefined {
  const e = (Array.isArray(r.extension) ? r.extension : []).find((x) => isObject(x) && x.url === `${TDDUI_SD}${name}`);
  return isObject(e) && typeof e.valueString === 'string' ? e.valueString : undefined;
}

/** The Appointment an agenda event stands for (undefined when it names no usager or no start). */
export function appointmentFromEvent(e: FhirResource): FhirResource | undefined {
  const patient = refOf(e.subject);
  const period = isObject(e.period) ? e.period : {};
  if (!patient?.startsWith('Patient/') || typeof period.start !== 'string') return undefined;
  const label = extString(e, 'tddui-event-label');
  const reason = extString(e, 'tddui-event-reason');
  const type = (Array.isArray(e.type) ? e.type : []).filter(isObject);
  const display = type.flatMap((t) => (Array.isArray(t.coding) ? t.coding : []).filter(isObject).map((c) => c.display)).find((d) => typeof d === 'string');
  const participants: Record<string, unknown>[] = [{ actor: { reference: patient }, required: 'required', status: 'accepted' }];
  for (const p of Array.isArray(e.participant) ? e.participant : []) {
    const who = isObject(p) ? refOf(p.individual) : undefined;
    if (who) participants.push({ actor: { reference: who }, required: 'required', status: 'accepted' });
  }
  for (const l of Array.isArray(e.location) ? e.location : []) {
    const where = isObject(l) ? refOf(l.location) : undefined;
    if (where) participants.push({ actor: { reference: where }, required: 'information-only', status: 'accepted' });
  }
  const end = typeof period.end === 'string' ? period.end : undefined;
  const status = STATUS[String(e.status)] ?? 'booked';
  return {
    resourceType: 'Appointment',
    meta: { tag: [{ system: FROM_EVENT_SYSTEM, code: 'tddui-evenement', display: 'Évènement du DUI (TDDUI)' }] },
    identifier: [{ system: FROM_EVENT_SYSTEM, value: `Encounter/${String(e.id)}` }],
    // A past or running event with no end cannot be "booked" without one (FHIR app-3): proposed then.
    status: end || status === 'cancelled' || status === 'entered-in-error' ? status : 'proposed',
    ...(type.length ? { serviceType: type.map((t) => ({ ...(Array.isArray(t.coding) ? { coding: t.coding } : {}), ...(typeof t.text === 'string' ? { text: t.text } : {}) })) } : {}),
    description: label ?? (typeof display === 'string' ? display : 'Évènement'),
    ...(reason ? { comment: reason } : {}),
    start: period.start,
    ...(end ? { end } : {}),
    supportingInformation: [{ reference: `Encounter/${String(e.id)}` }],
    participant: participants,
  };
}

export class UsagerAgendaSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly repo: Repository,
    private readonly log?: { warn(o: object, m: string): void },
  ) {}

  /** Follows the change feed to its end; returns how many events were applied. */
  run(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let n = 0;
      try {
        do {
          this.again = false;
          n += await this.drain();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
      return n;
    })();
    return this.running;
  }

  private async drain(): Promise<number> {
    const db = this.repo.db;
    const row = (await db.query<{ cursor: string }>('SELECT cursor FROM agenda_sync WHERE name = $1', [SYNC_NAME])).rows[0];
    let cursor = row ? parseChangeCursor(row.cursor) : undefined;
    let applied = 0;
    for (;;) {
      const changes = await readChanges(db, cursor, 500);
      if (changes.length === 0) return applied;
      const ids = [...new Set(changes.filter((c) => c.resourceType === 'Encounter').map((c) => c.id))];
      for (const id of ids) if (await this.apply(id)) applied++;
      cursor = changeCursor(changes[changes.length - 1]!);
      await db.query(
        `INSERT INTO agenda_sync (name, cursor, updated) VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, updated = EXCLUDED.updated`,
        [SYNC_NAME, changeCursorText(cursor)],
      );
    }
  }

  /** Brings the Appointment of Encounter/id in step with the Encounter's current version. */
  async apply(id: string): Promise<boolean> {
    const current = await this.repo.read('Encounter', id).then(
      (r) => r.resource,
      () => undefined, // deleted (410) or unknown
    );
    const criteria = [{ name: 'identifier', values: [`${FROM_EVENT_SYSTEM}|Encounter/${id}`] }];
    let target = current && isAgendaEvent(current) ? appointmentFromEvent(current) : undefined;
    if (!target) {
      // No longer an agenda event (deleted, or another profile): its Appointment, if any, is cancelled.
      const existing = await this.repo.search({ resourceType: 'Appointment', params: criteria, count: 1, offset: 0, total: 'none' });
      const prev = existing.matches[0]?.resource;
      if (!prev || prev.status === 'cancelled') return false;
      target = { ...prev, status: 'cancelled', cancelationReason: { text: 'Évènement supprimé dans le DUI' } };
      delete target.id;
    }
    try {
      await this.repo.execute({ ops: [{ method: 'update', resourceType: 'Appointment', criteria, resource: target, createOnUpdate: true }] });
      return true;
    } catch (e) {
      this.log?.warn({ err: e, encounter: id }, 'usager agenda: the event could not be kept as an Appointment');
      return false;
    }
  }

  /** Runs every `ms` milliseconds (and when woken) until stopped. */
  start(ms = 2000): void {
    if (this.timer) return;
    const tick = () => void this.run().catch((e) => this.log?.warn({ err: e }, 'usager agenda sync failed'));
    this.timer = setInterval(tick, ms);
    this.timer.unref();
    tick();
  }

  wake(): void {
    if (this.timer) void this.run().catch((e) => this.log?.warn({ err: e }, 'usager agenda sync failed'));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
