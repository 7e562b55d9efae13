// *Qualité des envois* (issue 18): per organisation (FINESS) and sending client, the
// submissions of a period, the rejection rate, the rules that fail most often, the last rejected
// submission — aggregated in SQL from the submission log (the rule ids are in each report's
// issues, `details.coding` of system urn:tddui:validation-rule).
import type { Queryable } from './types.js';
import { scopeSql, type ReadScope } from './scope.js';

export interface QualityRow {
  finess: string | null;
  organisation: string | null;
  /** The sending client (token subject and client id), null on an open server. */
  client: string | null;
  submissions: number;
  rejected: number;
  /** rejected / submissions, 0..1. */
  rejectionRate: number;
  first: string;
  last: string;
  lastRejected?: { id: string; receivedAt: string };
  /** The error rules of the rejected submissions, most frequent first (at most 5). */
  topRules: { rule: string; count: number }[];
}

export interface QualityFilter {
  /** ISO instants, inclusive. */
  from?: string;
  to?: string;
  /** The reader's organisations (src/storage/scope.ts): their submissions only. */
  scope?: ReadScope;
}

const RULE_SYSTEM = 'urn:tddui:validation-rule';

export async function qualityBySender(db: Queryable, f: QualityFilter = {}): Promise<QualityRow[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (f.from) where.push(`received_at >= $${params.push(f.from)}::timestamptz`);
  if (f.to) where.push(`received_at <= $${params.push(f.to)}::timestamptz`);
  if (f.scope) where.push(scopeSql(f.scope, 'organization_finess', (v) => `$${params.push(v)}`));
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const groups = await db.query<{ finess: string | null; name: string | null; client: string | null; n: number; rejected: number; first: Date | string; last: Date | string; last_rejected: string | null; last_rejected_at: Date | string | null }>(
    `SELECT organization_finess AS finess, max(organization_name) AS name, client,
            count(*)::int AS n, count(*) FILTER (WHERE outcome = 'rejected')::int AS rejected,
            min(received_at) AS first, max(received_at) AS last,
            (array_agg(id ORDER BY received_at DESC) FILTER (WHERE outcome = 'rejected'))[1] AS last_rejected,
            max(received_at) FILTER (WHERE outcome = 'rejected') AS last_rejected_at
       FROM submission ${w}
      GROUP BY organization_finess, client
      ORDER BY organization_finess NULLS LAST, client NULLS FIRST`,
    params,
  );
  const rules = await db.query<{ finess: string | null; client: string | null; rule: string; n: number }>(
    `SELECT s.organization_finess AS finess, s.client, x->>'code' AS rule, count(*)::int AS n
       FROM submission s
       CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(s.report->'issue') = 'array' THEN s.report->'issue' ELSE '[]'::json END) AS i
       CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(i->'details'->'coding') = 'array' THEN i->'details'->'coding' ELSE '[]'::json END) AS x
      WHERE s.outcome = 'rejected' AND i->>'severity' IN ('error', 'fatal') AND x->>'system' = $${params.push(RULE_SYSTEM)}
            ${where.length ? `AND ${where.map((c) => c.replace(/\b(received_at|organization_finess)\b/g, 's.$1')).join(' AND ')}` : ''}
      GROUP BY s.organization_finess, s.client, x->>'code'
      ORDER BY n DESC, rule`,
    params,
  );
  const key = (finess: string | null, client: string | null) => `${finess ?? ''}\u0000${client ?? ''}`;
  const top = new Map<string, { rule: string; count: number }[]>();
  for (const r of rules.rows) {
    const list = top.get(key(r.finess, r.client)) ?? [];
    if (list.length < 5) list.push({ rule: r.rule, count: Number(r.n) });
    top.set(key(r.finess, r.client), list);
  }
  const iso = (d: Date | string) => new Date(d).toISOString();
  return groups.rows.map((g) => ({
    finess: g.finess,
    organisation: g.name,
    client: g.client,
    submissions: Number(g.n),
    rejected: Number(g.rejected),
    rejectionRate: Number(g.n) ? Number(g.rejected) / Number(g.n) : 0,
    first: iso(g.first),
    last: iso(g.last),
    ...(g.last_rejected && g.last_rejected_at ? { lastRejected: { id: g.last_rejected, receivedAt: iso(g.last_rejected_at) } } : {}),
    topRules: top.get(key(g.finess, g.client)) ?? [],
  }));
}

/** Submissions of one organisation in one week (the time series of the quality page). */
export interface QualityWeek {
  /** Monday of the week (Europe/Paris), `YYYY-MM-DD`. */
  week: string;
  finess: string | null;
  submissions: number;
  rejected: number;
}

/** Submissions and rejections per organisation and week (Europe/Paris weeks), oldest first. */
export async function qualityByWeek(db: Queryable, f: QualityFilter = {}): Promise<QualityWeek[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (f.from) where.push(`received_at >= $${params.push(f.from)}::timestamptz`);
  if (f.to) where.push(`received_at <= $${params.push(f.to)}::timestamptz`);
  if (f.scope) where.push(scopeSql(f.scope, 'organization_finess', (v) => `$${params.push(v)}`));
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const res = await db.query<{ week: string; finess: string | null; n: number; rejected: number }>(
    `SELECT to_char(date_trunc('week', received_at AT TIME ZONE 'Europe/Paris'), 'YYYY-MM-DD') AS week, organization_finess AS finess,
            count(*)::int AS n, count(*) FILTER (WHERE outcome = 'rejected')::int AS rejected
       FROM submission ${w}
      GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST`,
    params,
  );
  return res.rows.map((r) => ({ week: r.week, finess: r.finess, submissions: Number(r.n), rejected: Number(r.rejected) }));
}
