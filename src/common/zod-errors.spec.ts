import { z } from 'zod';
import { formatZodError } from 'src/common/zod-errors';

function messageFor(schema: z.ZodType, input: unknown): string {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected a validation failure');
  return formatZodError(result.error, input);
}

describe('formatZodError never repeats what the client sent', () => {
  it('names the expected type, not the received value', () => {
    const message = messageFor(z.object({ id: z.string() }), { id: 4242424242 });
    expect(message).toBe('id: expected string, received number');
  });

  it('names the allowed values, not the one sent', () => {
    const message = messageFor(z.object({ kind: z.enum(['a', 'b']) }), { kind: 'sEcReT' });
    expect(message).toBe('kind: expected one of a, b');
  });

  it('does not quote record keys that are free text', () => {
    const schema = z.object({ metadata: z.record(z.string(), z.number()) });
    const message = messageFor(schema, { metadata: { 'my sEcReT note': 'x' } });
    expect(message).toBe('metadata[…]: expected number, received string');
  });

  it('names unknown keys only when they are plain identifiers', () => {
    const schema = z.strictObject({ a: z.string() });
    const message = messageFor(schema, { a: 'x', typo_key: 1, 'sEcReT text': 2 });
    expect(message).toBe('body: unknown key(s) typo_key, […]');
  });
});
