import type { RequestContext } from 'src/common/request-context';
import type { UsageConfig } from 'src/config/usage.config';
import { QuotaService, periodsAt } from 'src/usage/quota.service';
import type { UsageCounterEntity } from 'src/usage/usage-counter.entity';
import type { UsageMetrics } from 'src/usage/usage.metrics';
import type { Repository } from 'typeorm';

const ctx = (orgId?: string): RequestContext => ({
  userId: 'u1',
  orgId,
  isAdmin: false,
  requestId: 'r',
  metadata: {},
});

function service(quotas: UsageConfig['quotas'], query = jest.fn()) {
  const config: UsageConfig = { prices: {}, quotas, turnReserve: 100 };
  const repo = { query } as unknown as Repository<UsageCounterEntity>;
  return new QuotaService(repo, config, { refused: jest.fn() } as unknown as UsageMetrics);
}

describe('token budgets', () => {
  it('resets at the next UTC midnight and the first of the next month, across a year end', () => {
    const p = periodsAt(new Date('2026-12-31T23:59:59.900Z'));
    expect(p.day).toEqual({
      begins: new Date('2026-12-31T00:00:00Z'),
      resets: new Date('2027-01-01T00:00:00Z'),
    });
    expect(p.month).toEqual({
      begins: new Date('2026-12-01T00:00:00Z'),
      resets: new Date('2027-01-01T00:00:00Z'),
    });
    expect(periodsAt(new Date('2028-02-29T00:00:00Z')).day.resets).toEqual(new Date('2028-03-01T00:00:00Z'));
  });

  it('applies org budgets only to callers with an org, user budgets per user within the org', () => {
    const quotas = { userDay: 10, userMonth: undefined, orgDay: 100, orgMonth: 1000 };
    const now = new Date('2026-12-05T10:00:00Z');
    expect(
      service(quotas)
        .budgetsFor(ctx(), now)
        .map((b) => [b.name, b.org_id, b.user_id, b.starts]),
    ).toEqual([['user_day', '', 'u1', '2026-12-05']]);
    expect(
      service(quotas)
        .budgetsFor(ctx('acme'), now)
        .map((b) => [b.name, b.org_id, b.user_id, b.starts]),
    ).toEqual([
      ['org_day', 'acme', '', '2026-12-05'],
      ['org_month', 'acme', '', '2026-12-01'],
      ['user_day', 'acme', 'u1', '2026-12-05'],
    ]);
  });

  it('runs no statement when no budget is configured', async () => {
    const query = jest.fn();
    const quotas = { userDay: undefined, userMonth: undefined, orgDay: undefined, orgMonth: undefined };
    await expect(service(quotas, query).admit(ctx('acme'))).resolves.toBeUndefined();
    // An org budget does not apply to a caller without an org: nothing to check either.
    await expect(service({ ...quotas, orgDay: 5 }, query).admit(ctx())).resolves.toBeUndefined();
    expect(query).not.toHaveBeenCalled();
  });
});
