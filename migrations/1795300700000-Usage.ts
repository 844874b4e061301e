/**
 * Token usage: one row per model per turn (token_usage), the record GET /api/usage reads and cost
 * estimates are made from; and the counters token budgets are admitted against (usage_counters),
 * one row per subject (a user, or a whole org) and period (a UTC day or month). A usage row keeps
 * its thread's id but no foreign key: what was spent stays spent when the thread is deleted.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Usage1795300700000 implements MigrationInterface {
  name = 'Usage1795300700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE token_usage (
        id uuid CONSTRAINT token_usage_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id varchar(255) NOT NULL,
        org_id varchar(255) NOT NULL DEFAULT '',
        thread_id varchar(64) NOT NULL,
        model varchar(255) NOT NULL,
        day date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        input_tokens bigint NOT NULL DEFAULT 0,
        cached_input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        reasoning_tokens bigint NOT NULL DEFAULT 0,
        requests integer NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX idx_token_usage_owner ON token_usage (org_id, user_id, created_at)`);
    await q.query(`
      CREATE TABLE usage_counters (
        scope varchar(8) NOT NULL,
        org_id varchar(255) NOT NULL,
        user_id varchar(255) NOT NULL,
        period varchar(8) NOT NULL,
        starts date NOT NULL,
        budget bigint NOT NULL,
        used bigint NOT NULL DEFAULT 0,
        reserved bigint NOT NULL DEFAULT 0,
        reserved_until timestamptz NULL,
        largest_turn bigint NOT NULL DEFAULT 0,
        CONSTRAINT usage_counters_pkey PRIMARY KEY (scope, org_id, user_id, period, starts)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_counters`);
    await q.query(`DROP TABLE token_usage`);
  }
}
