/**
 * Turns zod failures into one short message that names each failing field by its path, for 400
 * responses everywhere (the validation pipe and the exception filter). The
 * message is built from the issue's own fields (code, path, expected, minimum, maximum, values…)
 * and, for a wrong type, the kind of value found at the path in the input: never from zod's
 * English text. It never repeats what the client sent: no received value, and no key that is not
 * a plain identifier (record keys are the client's text).
 */
import type { z } from 'zod';

// ---------------------------------------------------------------------------------------------

const MAX_REPORTED_ISSUES = 3;
/** zod's internal type names, as a client author would say them. */
const EXPECTED_NAMES: Record<string, string> = { record: 'object', int: 'integer' };
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/** `params.input.content[0].type`; the request body itself is called `body`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += '[…]';
  }
  return out || 'body';
}

/** What a client author would call the kind of a JSON value (never the value itself). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return typeof value;
}

const NOTHING = Symbol('nothing');

/**
 * The value an issue is about: its own `input` when the parse reported inputs, else the value at
 * the issue's path in the parsed input; NOTHING when neither is known.
 */
function valueOf(issue: z.core.$ZodIssue, root: unknown): unknown {
  if ('input' in issue) return issue.input;
  if (root === NOTHING) return NOTHING;
  let value: unknown = root;
  for (const segment of issue.path) {
    if (value === null || typeof value !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(value, segment)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      const value = valueOf(issue, root);
      if (value === NOTHING) return `expected ${expected}`;
      if (value === undefined) return 'required';
      return `expected ${expected}, received ${kindOf(value)}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_union':
      // Discriminated unions report the allowed tags; plain unions only their failed branches.
      if ('options' in issue && issue.options?.length)
        return `expected one of ${issue.options.map(String).join(', ')}`;
      return 'does not match any allowed shape';
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${min} element(s)`;
      if (issue.origin === 'string') return `must be at least ${min} characters`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${min}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'array') return `must have at most ${max} element(s)`;
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${max}`;
    }
    case 'invalid_format':
      return `expected a ${issue.format} string`;
    case 'unrecognized_keys':
      return `unknown key(s) ${issue.keys.map((k) => (IDENTIFIER.test(k) ? k : '[…]')).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid element';
    case 'custom':
      // Our own refinements word their message for the client.
      return issue.message;
  }
}

/**
 * One line naming each failing field, e.g.
 * `params.input.content[0].type: expected one of input_text, input_tag`. Only the first few
 * issues are listed; a client that sends many wrong fields gets the idea from those. `input` is
 * what was parsed: without it a wrong type cannot be told from a missing field.
 */
export function formatZodError(error: z.ZodError, input: unknown = NOTHING): string {
  const issues = error.issues;
  const shown = issues
    .slice(0, MAX_REPORTED_ISSUES)
    .map((i) => `${formatPath(i.path)}: ${describeIssue(i, input)}`);
  const hidden = issues.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')} (and ${hidden} more)` : shown.join('; ');
}
