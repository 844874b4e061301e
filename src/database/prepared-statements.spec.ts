import { EventEmitter } from 'node:events';
import { MAX_NAMED_STATEMENTS, PreparedStatements } from 'src/database/prepared-statements';
import type { DatabaseConfig } from 'src/config/database.config';

/** A pooled connection that records what it was sent and how it was given back. */
class FakeClient extends EventEmitter {
  sent: Array<{ name?: string; text: string }> = [];
  released: Array<Error | undefined> = [];
  answer: () => Promise<{ rows: unknown[] }> = async () => ({ rows: [{ ok: 1 }] });

  query(config: { name?: string; text: string }) {
    this.sent.push({ name: config.name, text: config.text });
    return this.answer();
  }

  release(err?: Error) {
    this.released.push(err);
  }
}

function statementsOver(clients: FakeClient[], config: Partial<DatabaseConfig> = {}) {
  let next = 0;
  const pool = { connect: async () => clients[next++ % clients.length] };
  const viaTypeOrm: string[] = [];
  const dataSource = {
    driver: { master: pool },
    query: async (text: string) => {
      viaTypeOrm.push(text);
      return [];
    },
    logger: { logQuery: () => undefined },
  };
  const statements = new PreparedStatements(
    dataSource as never,
    {
      preparedStatements: true,
      logging: false,
      ...config,
    } as DatabaseConfig,
  );
  return { statements, viaTypeOrm };
}

describe('PreparedStatements', () => {
  it('names a text the same on one connection and differently on another', async () => {
    const [a, b] = [new FakeClient(), new FakeClient()];
    const { statements } = statementsOver([a, b]);
    await statements.query('SELECT 1', []); // a
    await statements.query('SELECT 1', []); // b
    await statements.query('SELECT 1', []); // a
    await statements.query('SELECT 2', []); // b
    expect(a.sent[0].name).toMatch(/^ck_[0-9a-f]{8}_1$/);
    expect(a.sent[1].name).toBe(a.sent[0].name);
    // A session can outlive its connection: a new one must not reuse the old one's names.
    expect(b.sent[0].name).not.toBe(a.sent[0].name);
    expect(b.sent[1].name).toBe(b.sent[0].name?.replace(/_1$/, '_2'));
    expect(a.released).toEqual([undefined, undefined]);
  });

  it(`sends texts past the first ${MAX_NAMED_STATEMENTS} unnamed`, async () => {
    const client = new FakeClient();
    const { statements } = statementsOver([client]);
    for (let i = 0; i <= MAX_NAMED_STATEMENTS; i++) await statements.query(`SELECT ${i}`, []);
    expect(client.sent.filter((s) => s.name !== undefined)).toHaveLength(MAX_NAMED_STATEMENTS);
    expect(client.sent.at(-1)?.name).toBeUndefined();
  });

  it('keeps a connection whose statement failed, drops one that broke', async () => {
    const client = new FakeClient();
    const { statements } = statementsOver([client]);
    const sqlError = Object.assign(new Error('duplicate key'), { code: '23505' });
    client.answer = () => Promise.reject(sqlError);
    await expect(statements.query('INSERT 1', [])).rejects.toBe(sqlError);
    const broken = new Error('Connection terminated unexpectedly');
    client.answer = () => {
      client.emit('error', broken);
      return Promise.reject(broken);
    };
    await expect(statements.query('INSERT 1', [])).rejects.toBe(broken);
    expect(client.released).toEqual([undefined, broken]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('goes through TypeORM when turned off or not connected', async () => {
    const client = new FakeClient();
    const off = statementsOver([client], { preparedStatements: false });
    await off.statements.query('SELECT 1', []);
    expect(off.viaTypeOrm).toEqual(['SELECT 1']);
    expect(client.sent).toEqual([]);
  });
});
