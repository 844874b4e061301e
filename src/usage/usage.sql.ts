/**
 * The usage module's writes that must run inside another module's statement: a turn's token
 * usage is stored, and its budget hold settled, in the same statement as the turn's items and
 * the release of its run lease (ThreadStore.finishTurn composes these parts into its CTE). One
 * statement means the usage of a turn is stored exactly when the turn is, never without it, and
 * costs no round trip of its own. The SQL lives here because the tables are this module's.
 *
 * Each builder returns CTE parts (`name AS (...)`) and adds its values through `param`, which
 * returns the placeholder of the value it was given.
 */
import type { ModelUsageRow, QuotaSettlement } from 'src/usage/usage.types';

export type AddParam = (value: unknown) => string;

/** The columns that order counter rows: every statement locks them in this order (no deadlock). */
export const COUNTER_KEY_ORDER = 'scope, org_id, user_id, period, starts';

/** Inserts one token_usage row per model; `day` and `created_at` are the database's now (UTC). */
export function usageInsertPart(
  param: AddParam,
  owner: { userId: string; orgId: string; threadId: string },
  rows: ModelUsageRow[],
): string {
  return `usage_rows AS (
         INSERT INTO token_usage (user_id, org_id, thread_id, model, day, created_at, input_tokens,
                                  cached_input_tokens, output_tokens, reasoning_tokens, requests)
         SELECT ${param(owner.userId)}, ${param(owner.orgId)}, ${param(owner.threadId)}, x.model,
                (now() AT TIME ZONE 'UTC')::date, now(), x.input_tokens, x.cached_input_tokens,
                x.output_tokens, x.reasoning_tokens, x.requests
           FROM jsonb_to_recordset(${param(JSON.stringify(rows))}::jsonb)
                AS x(model varchar, input_tokens bigint, cached_input_tokens bigint, output_tokens bigint,
                     reasoning_tokens bigint, requests int))`;
}

/**
 * Settles an admitted turn: what it spent is added to `used` of every counter it held budget on,
 * and its hold is given back (all holds lapsed together when `reserved_until` passed: nothing to
 * give back then). The counters are locked in key order first, as admission locks them.
 */
export function settlementParts(param: AddParam, settlement: QuotaSettlement): string[] {
  const spent = param(settlement.spent);
  return [
    `holds AS (
         SELECT * FROM jsonb_to_recordset(${param(JSON.stringify(settlement.holds))}::jsonb)
           AS h(scope varchar, org_id varchar, user_id varchar, period varchar, starts date, held bigint))`,
    `held_counters AS (
         SELECT c.scope, c.org_id, c.user_id, c.period, c.starts FROM usage_counters c JOIN holds h USING (${COUNTER_KEY_ORDER})
          ORDER BY c.scope, c.org_id, c.user_id, c.period, c.starts FOR UPDATE OF c)`,
    `settled AS (
         UPDATE usage_counters c
            SET used = c.used + ${spent}::bigint,
                reserved = CASE WHEN c.reserved_until > now() THEN GREATEST(0, c.reserved - h.held) ELSE 0 END,
                largest_turn = GREATEST(c.largest_turn, ${spent}::bigint)
           FROM holds h, held_counters l
          WHERE (c.scope, c.org_id, c.user_id, c.period, c.starts) = (h.scope, h.org_id, h.user_id, h.period, h.starts)
            AND (l.scope, l.org_id, l.user_id, l.period, l.starts) = (h.scope, h.org_id, h.user_id, h.period, h.starts))`,
  ];
}
