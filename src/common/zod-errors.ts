/**
 * Turns zod failures into one short message that names each failing field by its path, for 400
 * responses everywhere (the exception filter uses it for every zod error). It never repeats what
 * the client sent: no received value, and no key that is not a plain identifier (record keys are
 * the client's text).
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

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      // zod's own message carries the received type ("…, received string"), which the issue lacks.
      if (/received undefined$/.test(issue.message)) return 'required';
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      const received = /received (\w+)$/.exec(issue.message)?.[1];
      return received ? `expected ${expected}, received ${received}` : `expected ${expected}`;
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
    default:
      return issue.message;
  }
}

/**
 * One line naming each failing field, e.g.
 * `params.input.content[0].type: expected one of input_text, input_tag`. Only the first few
 * issues are listed; a client that sends many wrong fields gets the idea from those.
 */
export function formatZodError(error: z.ZodError): string {
  const issues = error.issues;
  const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => `${formatPath(i.path)}: ${describeIssue(i)}`);
  const hidden = issues.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')} (and ${hidden} more)` : shown.join('; ');
}
