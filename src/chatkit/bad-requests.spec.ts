import { CHATKIT_REQUEST_TYPES, ChatKitRequestSchema } from 'src/protocol/chatkit.schemas';
import { formatZodError } from 'src/common/zod-errors';
import { BAD_REQUESTS, GOOD_REQUESTS } from 'test/fixtures/bad-requests';

/** The exact field paths a formatted message reports (`path: reason; path: reason`). */
function reportedPaths(message: string): string[] {
  return message.split('; ').map((part) => part.slice(0, part.indexOf(': ')));
}

describe('malformed POST /chatkit bodies', () => {
  it('has a large, distinct list', () => {
    expect(BAD_REQUESTS.length).toBeGreaterThanOrEqual(35);
    expect(new Set(BAD_REQUESTS.map((b) => b.name)).size).toBe(BAD_REQUESTS.length);
    expect(new Set(BAD_REQUESTS.map((b) => JSON.stringify(b.body))).size).toBe(BAD_REQUESTS.length);
  });

  it.each(BAD_REQUESTS.map((b) => [b.name, b] as const))('rejects %s and names the field', (_name, bad) => {
    const result = ChatKitRequestSchema.safeParse(bad.body);
    expect(result.success).toBe(false);
    if (result.success) return;
    const message = formatZodError(result.error);
    expect(message).toContain(bad.field);
    expect(reportedPaths(message)).toContain(bad.field);
  });
});

describe('valid POST /chatkit bodies', () => {
  it('covers every request type exactly once', () => {
    const types = GOOD_REQUESTS.map((g) => g.body.type);
    expect(new Set(types).size).toBe(16);
    expect([...types].sort()).toEqual([...CHATKIT_REQUEST_TYPES].sort());
  });

  it.each(GOOD_REQUESTS.map((g) => [g.name, g] as const))('accepts %s', (_name, good) => {
    const result = ChatKitRequestSchema.safeParse(good.body);
    if (!result.success) throw new Error(formatZodError(result.error));
    expect(result.data.type).toBe(good.body.type);
    expect(result.data.metadata).toEqual(good.body.metadata ?? {});
  });
});
