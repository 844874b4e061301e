/**
 * What text PostgreSQL can store. A NUL character is refused by `text` columns and by `jsonb`
 * (`\u0000`); an unpaired UTF-16 surrogate (`\ud800` alone, which JSON allows) cannot be encoded
 * as UTF-8 at all. Either one reaching a query fails it, so a client's request would become a
 * 500 with a stack in the log. Such text is refused, never repaired: silently changing what a
 * user typed is worse than telling the client which field to fix.
 *
 * Also refused: nesting deeper than INPUT_LIMITS.jsonDepth (PostgreSQL and recursive code have
 * stack limits, and no protocol shape comes close) and `__proto__` keys (assigning one changes an
 * object's prototype instead of adding a key, so code that copies objects behaves unexpectedly).
 *
 * Pure functions, no Nest or zod imports: the global input pipe and the protocol schemas share
 * them, so the rule is the same at both layers.
 */
import { INPUT_LIMITS } from 'src/common/input-limits';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL cannot store `s`, or undefined when it can. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}

export interface UnstorableInput {
  /** Where, relative to the value checked (`[]` is the value itself). */
  path: PropertyKey[];
  reason: string;
}

/**
 * The first string, object key or nesting level in `value` that cannot be stored, or undefined.
 * Walks plain objects and arrays only (what JSON, query strings and form fields produce); the
 * depth bound also bounds the recursion.
 */
export function findUnstorable(value: unknown, path: PropertyKey[] = []): UnstorableInput | undefined {
  if (typeof value === 'string') {
    const reason = textProblem(value);
    return reason ? { path, reason } : undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  if (path.length >= INPUT_LIMITS.jsonDepth) {
    return { path, reason: `nested more than ${INPUT_LIMITS.jsonDepth} levels deep` };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return { path, reason: 'the key "__proto__" is not allowed' };
    const keyProblem = textProblem(key);
    if (keyProblem) return { path, reason: `a key ${keyProblem}` };
    const found = findUnstorable((value as Record<string, unknown>)[key], [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** Length of `value` as compact JSON; what the JSON size limits measure. */
export function jsonLength(value: unknown): number {
  return value === undefined ? 0 : (JSON.stringify(value)?.length ?? 0);
}
