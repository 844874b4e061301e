/**
 * Reads the user and the organisation out of a verified token's claims. A claim that is present
 * but unusable is refused, never read as "no user" or "no org": rows store "no org" as org_id '',
 * so an unusable org read as absent would reach the caller's org-less data and, for an
 * administrator, the global knowledge base.
 *
 * Messages name the claim but never echo its value.
 */
import type { JWTPayload } from 'jose';
import { AppException, ErrorCode } from 'src/common/app.exception';

/** Longest user or org id, in characters: the width of the user_id and org_id columns. */
export const MAX_IDENTIFIER_LENGTH = 255;

const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL = /\p{Cc}/u;

/**
 * Why `value` is not a usable user or org id, or undefined when it is. Ids are compared exactly,
 * so anything that could make two ids look alike or be stored differently is refused: blank
 * values, surrounding whitespace, control characters (NUL included, which PostgreSQL cannot
 * store), lone surrogates (which would be stored as U+FFFD, merging distinct ids), and more than
 * MAX_IDENTIFIER_LENGTH characters.
 */
export function identifierProblem(value: string): string | undefined {
  if (value.trim() === '') return value === '' ? 'is empty' : 'is blank';
  if (LONE_SURROGATE.test(value)) return 'contains a lone surrogate (it is not well-formed Unicode)';
  if (CONTROL.test(value)) return 'contains a control character';
  if (value !== value.trim()) return 'has leading or trailing whitespace';
  if ([...value].length > MAX_IDENTIFIER_LENGTH) return `is longer than ${MAX_IDENTIFIER_LENGTH} characters`;
  return undefined;
}

/** The user id: the claim must be a string that is a usable identifier. */
export function readUserClaim(payload: JWTPayload, claim: string): string {
  const value = ownValue(payload, claim);
  const refuse = (why: string) =>
    new AppException(ErrorCode.TokenInvalidClaims, `the token's "${claim}" claim (the user id) ${why}`);
  if (value === undefined)
    throw new AppException(ErrorCode.TokenInvalidClaims, `the token has no "${claim}" claim (the user id)`);
  if (typeof value !== 'string') throw refuse(`must be a string, not ${kindOf(value)}`);
  const problem = identifierProblem(value);
  if (problem) throw refuse(problem);
  return value;
}

export interface OrgClaimRule {
  /** Top-level claim name, taken verbatim (it may contain dots and slashes). Unset: no orgs. */
  claim?: string;
  /** Property names leading from the claim's object to the org id; empty: the claim itself. */
  path: string[];
  /** A token without the claim is refused instead of meaning "no org". */
  required: boolean;
}

/**
 * The org id, or undefined when the token has no org claim at all (and none is required). The
 * value at the claim (or at the path inside it) must be a usable identifier, or an array holding
 * exactly one (Keycloak lists organisations in an array); an array of several is refused rather
 * than one of them picked.
 */
export function readOrgClaim(payload: JWTPayload, rule: OrgClaimRule): string | undefined {
  const { claim, path } = rule;
  if (!claim) return undefined;
  const at = path.length ? ` (the organisation at "${path.join('.')}")` : '';
  const where = path.length
    ? `the value at "${path.join('.')}" in the token's "${claim}" claim`
    : `the token's "${claim}" claim`;
  const refuse = (message: string) => new AppException(ErrorCode.TokenInvalidOrgClaim, message);

  let value = ownValue(payload, claim);
  if (value === undefined) {
    if (!rule.required) return undefined;
    throw refuse(`the token has no "${claim}" claim${at}, and this server requires an organisation`);
  }
  for (const key of path) {
    const inner = isObject(value) ? ownValue(value, key) : undefined;
    if (inner === undefined)
      throw refuse(`the token's "${claim}" claim has no organisation at "${path.join('.')}"`);
    value = inner;
  }
  if (Array.isArray(value)) {
    if (value.length !== 1) {
      throw refuse(
        value.length === 0
          ? `${where} lists no organisation`
          : `${where} lists ${value.length} organisations; exactly one is accepted`,
      );
    }
    value = value[0];
  }
  if (typeof value !== 'string') throw refuse(`${where} must be a string, not ${kindOf(value)}`);
  const problem = identifierProblem(value);
  if (problem) throw refuse(`${where} ${problem}`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only: never something inherited such as "constructor" or "toString". */
function ownValue(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
