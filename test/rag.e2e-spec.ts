/**
 * The knowledge base over real HTTP on the real AppModule and PostgreSQL: uploads (Markdown, HTML,
 * PDF, JSON), idempotent re-ingestion, search by words and by vectors (a fake embeddings server
 * with deterministic hashed bag-of-words vectors), org isolation, bad input, admin-only routes,
 * metrics, and the agent tool's numbered passages.
 *
 * Vector search needs pgvector. The embedded database has it; a PostgreSQL server without it
 * (CI) must run everything on full text, and the vector tests check that fallback instead.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { RequestContext } from 'src/common/request-context';
import { IngestionService } from 'src/rag/rag.ingestion.service';
import { KnowledgeRepository } from 'src/rag/rag.repository';
import { KnowledgeSearchTool } from 'src/rag/rag.tool';
import { SearchService } from 'src/rag/rag.search.service';
import { knowledgeSourcesFromToolOutput, type KnowledgeToolOutput } from 'src/rag/rag.citations';
import { cosineSimilarity, errorTurn, fakeEmbedding, FakeOpenAI } from 'test/support/fake-openai';
import { startApp, tokenFor, uniqueUser, type TestApp } from 'test/support/test-app';

const FIXTURES = join(__dirname, 'fixtures', 'rag');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

/** Letters and digits only, so the full-text parser keeps it as one word. */
const RUN = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

interface SearchBody {
  query: string;
  mode: 'hybrid' | 'fulltext' | 'vector';
  results: Array<{
    chunkId: string;
    documentId: string;
    title: string;
    source: string;
    headingPath: string[];
    text: string;
    score: number;
    snippet: string;
  }>;
}

describe('knowledge base', () => {
  let app: TestApp;
  let fake: FakeOpenAI;
  let db: DataSource;
  let vectors: boolean;
  let dimensions = 0;
  const org = `org-${RUN}`;
  const admin = uniqueUser('kb-admin');
  const reader = uniqueUser('kb-reader');

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    app = await startApp({
      OPENAI_BASE_URL: fake.baseURL,
      RAG_EMBEDDINGS_MODEL: 'text-embedding-fake',
      RAG_EMBEDDINGS_MAX_RETRIES: '0',
      RAG_MAX_UPLOAD_MB: '1',
      RAG_SEED_DOCS: 'false',
    });
    db = app.app.get(DataSource);
    const column: Array<{ dims: number }> = await db.query(
      `SELECT atttypmod AS dims FROM pg_attribute
        WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped`,
    );
    vectors = column.length > 0;
    dimensions = column[0]?.dims ?? 0;
    if (!vectors) {
      process.stdout.write(
        '\nrag e2e: this PostgreSQL has no pgvector; vector tests check the full-text fallback instead\n',
      );
    }
  });
  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  async function auth(user: string, opts: { org?: string; admin?: boolean } = {}): Promise<string> {
    const token = await tokenFor(user, { org: opts.org, roles: opts.admin ? ['admin'] : [] });
    return `Bearer ${token}`;
  }

  async function upload(
    file: { name: string; bytes: Buffer; type?: string },
    opts: { org?: string; user?: string; admin?: boolean; fields?: Record<string, string> } = {},
  ): Promise<Response> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(file.bytes)], { type: file.type ?? '' }), file.name);
    for (const [k, v] of Object.entries(opts.fields ?? {})) form.append(k, v);
    return fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: {
        Authorization: await auth(opts.user ?? admin, { org: opts.org ?? org, admin: opts.admin ?? true }),
      },
      body: form,
    });
  }

  async function postJson(body: unknown, opts: { org?: string; user?: string } = {}): Promise<Response> {
    return fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: {
        Authorization: await auth(opts.user ?? admin, { org: opts.org ?? org, admin: true }),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify(body),
    });
  }

  async function search(
    q: string,
    opts: { org?: string; user?: string; mode?: string; limit?: number } = {},
  ): Promise<{ status: number; body: SearchBody & { code?: string; message?: string } }> {
    const params = new URLSearchParams({ q });
    if (opts.mode) params.set('mode', opts.mode);
    if (opts.limit) params.set('limit', String(opts.limit));
    const res = await fetch(`${app.url}/api/search?${params}`, {
      headers: { Authorization: await auth(opts.user ?? reader, { org: 'org' in opts ? opts.org : org }) },
    });
    return {
      status: res.status,
      body: (await json(res)) as SearchBody & { code?: string; message?: string },
    };
  }

  async function rowsFor(source: string, orgId = org): Promise<{ documents: number; chunks: number }> {
    const [row]: Array<{ documents: string; chunks: string }> = await db.query(
      `SELECT (SELECT count(*) FROM documents WHERE org_id = $1 AND source = $2) AS documents,
              (SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE d.org_id = $1 AND d.source = $2) AS chunks`,
      [orgId, source],
    );
    return { documents: Number(row.documents), chunks: Number(row.chunks) };
  }

  // ------------------------------------------------------------------------------ ingestion

  let handbookId = '';

  it('ingests Markdown, HTML and PDF uploads into documents and chunks', async () => {
    const md = await upload({ name: 'handbook.md', bytes: fixture('handbook.md'), type: 'text/markdown' });
    expect(md.status).toBe(201);
    const mdBody = await json(md);
    expect(mdBody).toMatchObject({
      status: 'created',
      document: {
        orgId: org,
        title: 'Field Office Handbook (2024 edition)',
        source: 'handbook.md',
        mimeType: 'text/markdown',
        contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        byteSize: fixture('handbook.md').length,
        chunkCount: expect.any(Number),
      },
    });
    expect(mdBody.document.chunkCount).toBeGreaterThan(0);
    handbookId = mdBody.document.id;
    if (vectors) expect(mdBody.embedded).toBe(mdBody.document.chunkCount);

    const html = await upload(
      { name: 'page.html', bytes: fixture('page.html'), type: 'text/html' },
      { fields: { source: 'https://intranet.example.com/visitors' } },
    );
    expect(html.status).toBe(201);
    expect((await json(html)).document).toMatchObject({
      title: 'Visitor Guide — Harborlight',
      source: 'https://intranet.example.com/visitors',
      mimeType: 'text/html',
    });

    const pdf = await upload({ name: 'sample.pdf', bytes: fixture('sample.pdf'), type: 'application/pdf' });
    expect(pdf.status).toBe(201);
    const pdfDoc = (await json(pdf)).document;
    expect(pdfDoc).toMatchObject({ source: 'sample.pdf', mimeType: 'application/pdf' });
    expect(await rowsFor('sample.pdf')).toEqual({ documents: 1, chunks: pdfDoc.chunkCount });
  });

  it('finds the passage that holds the words, with a highlighted snippet and its source', async () => {
    const coffee = await search('espresso machine red light');
    expect(coffee.status).toBe(200);
    expect(coffee.body.mode).toBe(vectors ? 'hybrid' : 'fulltext');
    const top = coffee.body.results[0];
    expect(top).toMatchObject({ source: 'handbook.md', title: 'Field Office Handbook (2024 edition)' });
    expect(top.text).toContain('espresso machine shows a red light');
    expect(top.headingPath).toEqual(['Field Office Handbook', 'Kitchen and coffee']);
    expect(top.snippet).toMatch(/<mark>espresso<\/mark>/i);

    const pdf = await search('forklift battery swollen sulphur', { mode: 'fulltext' });
    expect(pdf.body.mode).toBe('fulltext');
    expect(pdf.body.results[0]).toMatchObject({ source: 'sample.pdf' });
    expect(pdf.body.results[0].text).toContain('extension 4410');

    const html = await search('how many café vouchers per guest', { mode: 'fulltext' });
    expect(html.body.results[0]).toMatchObject({ source: 'https://intranet.example.com/visitors' });
    expect(html.body.results[0].text).toContain('two café vouchers');
    // Script and navigation text never made it into the index.
    expect((await search('analyticsToken', { mode: 'fulltext' })).body.results).toEqual([]);
  });

  it('escapes document text in snippets so only the highlight is markup', async () => {
    const res = await postJson({
      source: `notes/${RUN}-markup.md`,
      content: `# Markup ${RUN}\n\nThe <script>alert(1)</script> tag and a & sign sit next to the word lighthouse${RUN}.`,
    });
    expect(res.status).toBe(201);
    const found = await search(`lighthouse${RUN}`, { mode: 'fulltext' });
    expect(found.body.results).toHaveLength(1);
    const snippet = found.body.results[0].snippet;
    expect(snippet).toContain(`<mark>lighthouse${RUN}</mark>`);
    expect(snippet).toContain('script&gt;');
    expect(snippet).toContain('&amp; sign');
    // Apart from the highlight tags there is no markup left to interpret.
    expect(snippet.replace(/<\/?mark>/g, '')).not.toMatch(/[<>]/);
  });

  it('does nothing when the same content is ingested again, and replaces changed content atomically', async () => {
    const before: Array<{ id: string }> = await db.query(
      `SELECT id FROM chunks WHERE document_id = $1 ORDER BY ordinal`,
      [handbookId],
    );
    const again = await upload({ name: 'handbook.md', bytes: fixture('handbook.md'), type: 'text/markdown' });
    expect(again.status).toBe(200);
    const againBody = await json(again);
    expect(againBody.status).toBe('unchanged');
    expect(againBody.document.id).toBe(handbookId);
    const after: Array<{ id: string }> = await db.query(
      `SELECT id FROM chunks WHERE document_id = $1 ORDER BY ordinal`,
      [handbookId],
    );
    expect(after).toEqual(before);

    const source = `policies/${RUN}-parking.md`;
    const v1 = await postJson({
      source,
      content: `# Parking\n\nBikes go in the cellar${RUN} near the stairs.`,
    });
    expect(v1.status).toBe(201);
    const v1Body = await json(v1);
    const v2 = await postJson({
      source,
      content: `# Parking\n\nBikes now go in the courtyard${RUN}.\n\n## Cars\n\nCars park on level minus two.`,
    });
    expect(v2.status).toBe(200);
    const v2Body = await json(v2);
    expect(v2Body).toMatchObject({ status: 'updated', document: { id: v1Body.document.id } });
    expect(v2Body.document.contentHash).not.toBe(v1Body.document.contentHash);
    expect((await search(`cellar${RUN}`, { mode: 'fulltext' })).body.results).toEqual([]);
    expect((await search(`courtyard${RUN}`)).body.results[0]).toMatchObject({ source });
    expect(await rowsFor(source)).toEqual({ documents: 1, chunks: v2Body.document.chunkCount });
  });

  it('on large knowledge bases, selects by the rarest words within a row budget and ranks by all of them', async () => {
    const repository = app.app.get(KnowledgeRepository);
    const base = {
      orgIds: [org, ''],
      websearch: false,
      mode: 'fulltext' as const,
      maxDistance: 1,
      limit: 5,
      candidates: 50,
      textSearchConfig: 'english',
      iterativeScan: false,
      scanCap: null,
    };
    const heavy = `notes/${RUN}-machines.md`;
    const lamp = `notes/${RUN}-lamp.md`;
    const beans = `notes/${RUN}-beans.md`;
    const espressoText = '# Espresso machine\n\nEspresso machine care: descale the espresso machine weekly.';
    const added = [
      await postJson({ source: heavy, content: espressoText }),
      await postJson({ source: lamp, content: '# Studio\n\nThe lamp over the door glows red.' }),
      await postJson({
        source: beans,
        content: '# Espresso beans\n\nEspresso roast, espresso grind, espresso blend: espresso all day.',
      }),
    ];
    expect(added.map((r) => r.status)).toEqual([201, 201, 201]);
    const addedIds = await Promise.all(added.map(async (r) => (await json(r)).document.id as string));

    // The statistics the service reads come from ANALYZE of the real table.
    await repository.analyze();
    const measured = await repository.termStatistics();
    expect(measured.rows).toBeGreaterThan(0);
    expect(measured.lexemes).toContain('espresso');
    expect(measured.frequencies).toHaveLength(measured.lexemes.length);
    for (const f of measured.frequencies) expect(f > 0 && f <= 1).toBe(true);
    expect(measured.unlisted).toBeLessThan(Math.min(...measured.frequencies));

    // A pretend knowledge base of a million chunks where half say "espresso" and "machine".
    const stats = {
      rows: 1_000_000,
      lexemes: ['machin', 'espresso', 'red', 'light'],
      frequencies: [0.5, 0.5, 0.0001, 0.0002],
      unlisted: 0.00001,
    };
    const question = 'espresso machine red light';
    const unpruned = await repository.search({
      ...base,
      limit: 2,
      text: question,
      termStatistics: stats,
      rowBudget: Infinity,
    });
    expect(unpruned.map((r) => r.source)).toContain(heavy);
    // "red" (100 rows) and "light" (200) fit a budget of 1,000 rows; "espresso" and "machin" would
    // add 500,000 each: rows are selected by "red" and "light" only (the handbook and the lamp),
    // and ranked by every word.
    const pruned = await repository.search({
      ...base,
      limit: 2,
      text: question,
      termStatistics: stats,
      rowBudget: 1_000,
    });
    expect(pruned.map((r) => r.source)).toEqual(['handbook.md', lamp]);
    expect(pruned[0].text).toContain('espresso machine shows a red light');
    // A budget of 150 rows keeps the pairs with the rarest word: only chunks saying "red" and one
    // of the others are ranked, so the lamp that merely glows red is left out.
    const pairs = await repository.search({
      ...base,
      limit: 1,
      text: question,
      termStatistics: stats,
      rowBudget: 150,
    });
    expect(pairs.map((r) => r.source)).toEqual(['handbook.md']);
    // Nothing matches the rare word, so rows with the common one come back after all.
    const fallback = await repository.search({
      ...base,
      text: `espresso nonexistentword${RUN}`,
      termStatistics: stats,
      rowBudget: 1_000,
    });
    expect(fallback[0].text).toContain('espresso');
    // Only common words: the rarest selects anyway.
    const onlyCommon = await repository.search({
      ...base,
      text: 'espresso',
      termStatistics: stats,
      rowBudget: 1_000,
    });
    expect(onlyCommon.map((r) => r.chunkId)).toEqual(fallback.map((r) => r.chunkId));
    expect(onlyCommon.length).toBeGreaterThanOrEqual(2);

    // The scan cap bounds the rows ranked, whatever the words.
    const capped = await repository.search({
      ...base,
      text: 'espresso',
      termStatistics: stats,
      rowBudget: Infinity,
      scanCap: 1,
    });
    expect(capped).toHaveLength(1);
    expect(onlyCommon.map((r) => r.chunkId)).toContain(capped[0].chunkId);

    // Two words that are each too common to select alone select together: "espresso" and
    // "machine" in 1% of a million chunks each are expected together in 100.
    const twoCommon = { ...stats, frequencies: [0.01, 0.01, 0.0001, 0.0002] };
    const everyWord = await repository.search({
      ...base,
      text: 'espresso machine',
      termStatistics: twoCommon,
      rowBudget: Infinity,
    });
    expect(everyWord.map((r) => r.source)).toContain(beans);
    const together = await repository.search({
      ...base,
      limit: 2,
      text: 'espresso machine',
      termStatistics: twoCommon,
      rowBudget: 1_000,
    });
    expect(together.map((r) => r.source).sort()).toEqual(['handbook.md', heavy].sort());

    // The espresso-heavy note would outrank the handbook in the tests below.
    for (const id of addedIds) {
      const res = await fetch(`${app.url}/api/documents/${id}`, {
        method: 'DELETE',
        headers: { Authorization: await auth(admin, { org, admin: true }) },
      });
      expect(res.status).toBe(204);
    }
  });

  // ------------------------------------------------------------------------------ vectors

  it('ranks by vector similarity in vector mode, or says vector search is unavailable without pgvector', async () => {
    const query = 'who may book a basement space for parking the evening before';
    if (!vectors) {
      const vector = await search(query, { mode: 'vector' });
      expect(vector.status).toBe(400);
      expect(vector.body).toMatchObject({ code: 'vector_search_unavailable' });
      expect(vector.body.message).toMatch(/pgvector/);
      const hybrid = await search(query);
      expect(hybrid.status).toBe(200);
      expect(hybrid.body.mode).toBe('fulltext');
      expect(hybrid.body.results[0]).toMatchObject({ source: 'handbook.md' });
      expect(fake.requestsTo('/v1/embeddings')).toHaveLength(0);
      return;
    }
    const res = await search(query, { mode: 'vector', limit: 3 });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('vector');
    // The expected order, computed here from the stored text with the fake's own function.
    const visible: Array<{ id: string; search_text: string }> = await db.query(
      `SELECT id, search_text FROM chunks WHERE org_id IN ($1, '')`,
      [org],
    );
    const q = fakeEmbedding(query, dimensions);
    const expected = visible
      .map((c) => ({ id: c.id, score: cosineSimilarity(q, fakeEmbedding(c.search_text, dimensions)) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 3);
    expect(res.body.results.map((r) => r.chunkId)).toEqual(expected.map((e) => e.id));
    expect(res.body.results[0].score).toBeCloseTo(expected[0].score, 4);
    const sent = fake.requestsTo('/v1/embeddings').at(-1)!.body as { model: string; dimensions: number };
    expect(sent).toMatchObject({ model: 'text-embedding-fake', dimensions });
  });

  it('hybrid search finds what full text cannot, through the vector ranking', async () => {
    // Every word of this query is an English stop word: the full-text index has nothing to match.
    const source = `notes/${RUN}-stopwords.md`;
    const content = 'Whatever was here before is ours, and those over there are theirs; nothing more.';
    expect((await postJson({ source, content, title: 'Ownership' })).status).toBe(201);
    const query = 'those over there are theirs';
    const fulltext = await search(query, { mode: 'fulltext' });
    expect(fulltext.status).toBe(200);
    expect(fulltext.body.results).toEqual([]);
    const hybrid = await search(query);
    expect(hybrid.status).toBe(200);
    if (!vectors) {
      expect(hybrid.body).toMatchObject({ mode: 'fulltext', results: [] });
      return;
    }
    expect(hybrid.body.mode).toBe('hybrid');
    expect(hybrid.body.results[0]).toMatchObject({ source, title: 'Ownership' });
  });

  it('stores chunks without vectors when the embedding server fails, and the backfill fills them', async () => {
    if (!vectors) {
      const ingestion = app.app.get(IngestionService);
      await expect(ingestion.backfillEmbeddings()).rejects.toThrow(/pgvector/);
      return;
    }
    fake.enqueueEmbeddings(errorTurn(500, { message: 'embedding backend down' }));
    const source = `notes/${RUN}-backfill.md`;
    const res = await postJson({
      source,
      content: `# Backfill\n\nThe quartermaster${RUN} keeps the spare keys.`,
    });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({
      status: 'created',
      embedded: 0,
      embeddingError: expect.stringMatching(/500/),
    });
    const missing = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM chunks c JOIN documents d ON d.id = c.document_id
              WHERE d.source = $1 AND c.embedding IS NULL`,
            [source],
          )
        )[0].n,
      );
    expect(await missing()).toBe(body.document.chunkCount);
    // Full text still finds it meanwhile.
    expect((await search(`quartermaster${RUN}`)).body.results[0]).toMatchObject({ source });

    const progress = await app.app.get(IngestionService).backfillEmbeddings();
    expect(progress.embedded).toBeGreaterThanOrEqual(body.document.chunkCount);
    expect(progress.remaining).toBe(0);
    expect(await missing()).toBe(0);
  });

  // ------------------------------------------------------------------------------ scoping

  it('keeps each org to its own documents plus the global ones', async () => {
    const orgA = `a-${RUN}`;
    const orgB = `b-${RUN}`;
    const word = `zebracorn${RUN}`;
    expect(
      (await postJson({ source: 'secret.md', content: `# A\n\n${word} alpha plans.` }, { org: orgA })).status,
    ).toBe(201);
    expect(
      (await postJson({ source: 'secret.md', content: `# B\n\n${word} bravo plans.` }, { org: orgB })).status,
    ).toBe(201);
    const globalRes = await fetch(`${app.url}/api/documents`, {
      method: 'POST',
      headers: {
        Authorization: await auth(uniqueUser('root'), { admin: true }),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ source: `global/${RUN}.md`, content: `# Everyone\n\n${word} shared plans.` }),
    });
    expect(globalRes.status).toBe(201);
    expect((await json(globalRes)).document.orgId).toBe('');

    const texts = async (orgId: string | undefined) =>
      (await search(word, { org: orgId, user: uniqueUser('member'), mode: 'fulltext' })).body.results
        .map((r) => r.text)
        .sort();
    expect(await texts(orgA)).toEqual([`${word} alpha plans.`, `${word} shared plans.`]);
    expect(await texts(orgB)).toEqual([`${word} bravo plans.`, `${word} shared plans.`]);
    expect(await texts(undefined)).toEqual([`${word} shared plans.`]);
    if (vectors) {
      // The nearest neighbour of B's exact text is B's chunk; org A must get something else.
      const nearest = await search(`${word} bravo plans.`, { org: orgA, mode: 'vector', limit: 50 });
      expect(nearest.body.results.length).toBeGreaterThan(0);
      expect(nearest.body.results.map((r) => r.text)).not.toContain(`${word} bravo plans.`);
      const own = await search(`${word} bravo plans.`, { org: orgB, mode: 'vector', limit: 1 });
      expect(own.body.results[0].text).toBe(`${word} bravo plans.`);
    }

    // An admin manages their own org's documents only.
    const listA = await fetch(`${app.url}/api/documents`, {
      headers: { Authorization: await auth(admin, { org: orgA, admin: true }) },
    });
    expect(listA.status).toBe(200);
    const docsA = (await json(listA)).data as Array<{ id: string; orgId: string }>;
    expect(docsA.map((d) => d.orgId)).toEqual([orgA]);
    const listB = await fetch(`${app.url}/api/documents`, {
      headers: { Authorization: await auth(admin, { org: orgB, admin: true }) },
    });
    const docB = ((await json(listB)).data as Array<{ id: string }>)[0];
    const crossDelete = await fetch(`${app.url}/api/documents/${docB.id}`, {
      method: 'DELETE',
      headers: { Authorization: await auth(admin, { org: orgA, admin: true }) },
    });
    expect(crossDelete.status).toBe(404);
    expect(await texts(orgB)).toHaveLength(2);

    const ownDelete = await fetch(`${app.url}/api/documents/${docsA[0].id}`, {
      method: 'DELETE',
      headers: { Authorization: await auth(admin, { org: orgA, admin: true }) },
    });
    expect(ownDelete.status).toBe(204);
    expect(await texts(orgA)).toEqual([`${word} shared plans.`]);
    expect(await rowsFor('secret.md', orgA)).toEqual({ documents: 0, chunks: 0 });
  });

  it('pages the document list with a cursor', async () => {
    const pageOrg = `p-${RUN}`;
    for (const n of [1, 2, 3]) {
      expect(
        (await postJson({ source: `p${n}.md`, content: `# P${n}\n\nPage ${n}.` }, { org: pageOrg })).status,
      ).toBe(201);
    }
    const headers = { Authorization: await auth(admin, { org: pageOrg, admin: true }) };
    const first = await json(await fetch(`${app.url}/api/documents?limit=2`, { headers }));
    expect(first.data.map((d: { source: string }) => d.source)).toEqual(['p3.md', 'p2.md']);
    expect(first.hasMore).toBe(true);
    const second = await json(
      await fetch(`${app.url}/api/documents?limit=2&after=${first.after}`, { headers }),
    );
    expect(second).toEqual({
      data: [expect.objectContaining({ source: 'p1.md' })],
      hasMore: false,
      after: null,
    });
    const bad = await fetch(`${app.url}/api/documents?after=not-a-cursor`, { headers });
    expect(bad.status).toBe(400);
  });

  // ------------------------------------------------------------------------------ bad input

  it('rejects empty and oversized queries with a clear 400', async () => {
    const empty = await search('   ');
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/^q: .*empty/),
    });
    const missing = await fetch(`${app.url}/api/search`, { headers: { Authorization: await auth(reader) } });
    expect(missing.status).toBe(400);
    const huge = await search('word '.repeat(300));
    expect(huge.status).toBe(400);
    expect(huge.body.message).toMatch(/q: .*1000/);
    const badMode = await search('parking', { mode: 'semantic' });
    expect(badMode.status).toBe(400);
    expect(badMode.body.message).toMatch(/mode/);
  });

  it('refuses unsupported, corrupt and oversized files with 4xx and leaves no rows behind', async () => {
    const blob = await upload({
      name: 'blob.bin',
      bytes: fixture('blob.bin'),
      type: 'application/octet-stream',
    });
    expect(blob.status).toBe(415);
    expect(await json(blob)).toMatchObject({
      code: 'unsupported_format',
      message: expect.stringMatching(/unsupported/),
    });
    expect(await rowsFor('blob.bin')).toEqual({ documents: 0, chunks: 0 });

    const corrupt = await upload({
      name: 'broken.pdf',
      bytes: fixture('sample-truncated.pdf'),
      type: 'application/pdf',
    });
    expect(corrupt.status).toBe(422);
    expect(await json(corrupt)).toMatchObject({
      code: 'corrupt_file',
      message: expect.stringMatching(/broken\.pdf/),
    });
    expect(await rowsFor('broken.pdf')).toEqual({ documents: 0, chunks: 0 });

    // A corrupt new version of an existing document leaves the old version searchable.
    const replaced = await upload(
      { name: 'handbook.pdf', bytes: fixture('sample-truncated.pdf'), type: 'application/pdf' },
      { fields: { source: 'handbook.md' } },
    );
    expect(replaced.status).toBe(422);
    expect((await search('espresso machine red light')).body.results[0]).toMatchObject({
      source: 'handbook.md',
    });

    const empty = await upload({ name: 'empty.md', bytes: Buffer.alloc(0), type: 'text/markdown' });
    expect(empty.status).toBe(422);
    expect(await json(empty)).toMatchObject({ code: 'empty_document' });

    const tooBig = await upload({
      name: 'big.txt',
      bytes: Buffer.alloc(1024 * 1024 + 10, 'a'),
      type: 'text/plain',
    });
    expect(tooBig.status).toBe(413);
    expect(await rowsFor('big.txt')).toEqual({ documents: 0, chunks: 0 });

    const noBody = await postJson({ title: 'nothing' });
    expect(noBody.status).toBe(400);
    const noSource = await postJson({ content: 'text without a source' });
    expect(noSource.status).toBe(400);
    expect((await json(noSource)).message).toMatch(/source/);
  });

  it('keeps document management to admins and search to signed-in users', async () => {
    const nonAdmin = await upload({ name: 'x.md', bytes: Buffer.from('# X\n\nx') }, { admin: false });
    expect(nonAdmin.status).toBe(403);
    expect(await json(nonAdmin)).toMatchObject({
      code: 'forbidden',
      message: 'managing the knowledge base requires the admin role',
    });
    expect(await rowsFor('x.md')).toEqual({ documents: 0, chunks: 0 });
    for (const [method, path] of [
      ['GET', '/api/documents'],
      ['DELETE', `/api/documents/${handbookId}`],
    ]) {
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: { Authorization: await auth(reader, { org }) },
      });
      expect(res.status).toBe(403);
    }
    expect((await fetch(`${app.url}/api/search?q=parking`)).status).toBe(401);
  });

  // ------------------------------------------------------------------------------ agent, metrics

  it('gives the agent numbered passages that keep their numbers within a turn', async () => {
    const tool = app.app.get(KnowledgeSearchTool);
    const context = { request: member(org) };
    const first = JSON.parse(
      await tool.execute('espresso machine red light', context),
    ) as KnowledgeToolOutput;
    expect(first.results.length).toBeGreaterThan(0);
    expect(first.results[0]).toMatchObject({ ref: 1, cite_as: '[1]', source: 'handbook.md' });
    expect(first.results.map((r) => r.ref)).toEqual(first.results.map((_, i) => i + 1));
    const second = JSON.parse(await tool.execute('kitchen espresso', context)) as KnowledgeToolOutput;
    const espresso = second.results.find((r) => r.text.includes('espresso machine shows a red light'));
    expect(espresso?.ref).toBe(1);
    expect(knowledgeSourcesFromToolOutput(JSON.stringify(second))).toEqual(
      second.results.map(({ ref, title, source, section }) => ({
        ref,
        title,
        source,
        ...(section ? { section } : {}),
      })),
    );
    // Another turn numbers from 1 again.
    const other = JSON.parse(
      await tool.execute('forklift battery', { request: member(org) }),
    ) as KnowledgeToolOutput;
    expect(other.results[0].ref).toBe(1);

    const knowledge = app.app.get(SearchService);
    const passages = await knowledge.search('espresso machine red light', member(org), 2);
    expect(passages.length).toBeLessThanOrEqual(2);
    expect(passages[0]).toMatchObject({
      source: 'handbook.md',
      title: 'Field Office Handbook (2024 edition)',
    });
    expect(await knowledge.search('espresso', member(`other-${RUN}`), 3)).not.toContainEqual(
      expect.objectContaining({ source: 'handbook.md' }),
    );
  });

  it('records search latency, results and ingestion outcomes in the metrics', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    const mode = vectors ? 'hybrid' : 'fulltext';
    expect(text).toMatch(new RegExp(`chatkit_rag_search_duration_seconds_count\\{mode="${mode}"\\} [1-9]`));
    expect(text).toMatch(/chatkit_rag_search_results_count\{mode="fulltext"\} [1-9]/);
    expect(text).toMatch(/chatkit_rag_ingestions_total\{status="created"\} [1-9]/);
    expect(text).toMatch(/chatkit_rag_ingestions_total\{status="unchanged"\} [1-9]/);
    expect(text).toMatch(/chatkit_rag_ingestion_failures_total\{code="corrupt_file"\} [1-9]/);
    expect(text).toMatch(/chatkit_rag_ingestion_failures_total\{code="unsupported_format"\} [1-9]/);
  });
});

async function json(res: Response): Promise<any> {
  return res.json();
}

function member(orgId: string): RequestContext {
  return { userId: uniqueUser('member'), orgId, isAdmin: false, requestId: 'test', metadata: {} };
}
