import { AppException } from 'src/common/app.exception';
import { identifierProblem, readOrgClaim, readUserClaim, type OrgClaimRule } from 'src/auth/identity-claims';

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppException) return { code: String(error.code), message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('identifierProblem', () => {
  it.each(['acme', 'alice@example.com', 'Alice Smith', 'zoë-😀', 'x'.repeat(255), '😀'.repeat(255)])(
    'accepts %j',
    (value) => expect(identifierProblem(value)).toBeUndefined(),
  );

  it.each([
    ['', 'is empty'],
    [' \t', 'is blank'],
    ['\u00a0', 'is blank'],
    [' a', 'has leading or trailing whitespace'],
    ['a\u2028', 'has leading or trailing whitespace'],
    ['a\u0000b', 'contains a control character'],
    ['\u0007x', 'contains a control character'],
    ['a\u007fb', 'contains a control character'],
    ['a\u009fb', 'contains a control character'],
    ['a\ud800', 'contains a lone surrogate (it is not well-formed Unicode)'],
    ['\udfffa', 'contains a lone surrogate (it is not well-formed Unicode)'],
    ['x'.repeat(256), 'is longer than 255 characters'],
    ['😀'.repeat(256), 'is longer than 255 characters'],
  ])('refuses %j: %s', (value, problem) => expect(identifierProblem(value)).toBe(problem));
});

describe('readUserClaim', () => {
  it('reads the configured claim', () => {
    expect(readUserClaim({ uid: 'u-1', sub: 'other' }, 'uid')).toBe('u-1');
  });

  it('never reads an inherited property', () => {
    expect(refusal(() => readUserClaim({}, 'toString'))).toEqual({
      code: 'token_invalid_claims',
      message: 'the token has no "toString" claim (the user id)',
    });
  });

  it('names the claim and the problem, never the value', () => {
    expect(refusal(() => readUserClaim({ sub: 'secret\u0000' }, 'sub'))).toEqual({
      code: 'token_invalid_claims',
      message: 'the token\'s "sub" claim (the user id) contains a control character',
    });
    expect(refusal(() => readUserClaim({ uid: 7 }, 'uid')).message).toBe(
      'the token\'s "uid" claim (the user id) must be a string, not a number',
    );
  });
});

describe('readOrgClaim', () => {
  const top: OrgClaimRule = { claim: 'org', path: [], required: false };
  const nested: OrgClaimRule = { claim: 'https://example.com/tenant', path: ['org', 'id'], required: false };

  it('reads nothing when no org claim is configured', () => {
    expect(readOrgClaim({ org: 'acme' }, { path: [], required: false })).toBeUndefined();
  });

  it('reads a string, or the one string of a one-element array', () => {
    expect(readOrgClaim({ org: 'acme' }, top)).toBe('acme');
    expect(readOrgClaim({ org: ['acme'] }, top)).toBe('acme');
  });

  it('reads no org when the claim is absent, unless the org is required', () => {
    expect(readOrgClaim({}, top)).toBeUndefined();
    expect(refusal(() => readOrgClaim({}, { ...top, required: true }))).toEqual({
      code: 'token_invalid_org_claim',
      message: 'the token has no "org" claim, and this server requires an organisation',
    });
  });

  it.each<[unknown, string]>([
    [['a', 'b'], 'the token\'s "org" claim lists 2 organisations; exactly one is accepted'],
    [[], 'the token\'s "org" claim lists no organisation'],
    [[['a']], 'the token\'s "org" claim must be a string, not an array'],
    [{ id: 'a' }, 'the token\'s "org" claim must be a string, not an object'],
    [null, 'the token\'s "org" claim must be a string, not null'],
    [3, 'the token\'s "org" claim must be a string, not a number'],
    [false, 'the token\'s "org" claim must be a string, not a boolean'],
    ['', 'the token\'s "org" claim is empty'],
    [['\u0000'], 'the token\'s "org" claim contains a control character'],
  ])('refuses %j', (org, message) => {
    expect(refusal(() => readOrgClaim({ org }, top))).toEqual({ code: 'token_invalid_org_claim', message });
  });

  it('follows the path inside a top-level claim named verbatim', () => {
    const payload = { 'https://example.com/tenant': { org: { id: 'acme' } } };
    expect(readOrgClaim(payload, nested)).toBe('acme');
    expect(readOrgClaim({ 'https://example.com/tenant': { org: { id: ['acme'] } } }, nested)).toBe('acme');
  });

  it.each<[unknown]>([
    ['acme'],
    [{ org: 'acme' }],
    [{ org: [{ id: 'acme' }] }],
    [{ 'org.id': 'acme' }],
    [{ org: {} }],
  ])('refuses %j: the path leads nowhere', (tenant) => {
    expect(refusal(() => readOrgClaim({ 'https://example.com/tenant': tenant }, nested))).toEqual({
      code: 'token_invalid_org_claim',
      message: 'the token\'s "https://example.com/tenant" claim has no organisation at "org.id"',
    });
  });

  it('never follows an inherited property', () => {
    const rule: OrgClaimRule = { claim: 'o', path: ['constructor'], required: false };
    expect(refusal(() => readOrgClaim({ o: {} }, rule)).code).toBe('token_invalid_org_claim');
    expect(readOrgClaim({}, { claim: 'constructor', path: [], required: false })).toBeUndefined();
  });

  it('names the path and the claim when the value at the path is unusable', () => {
    expect(
      refusal(() => readOrgClaim({ 'https://example.com/tenant': { org: { id: ['a', 'b'] } } }, nested)),
    ).toEqual({
      code: 'token_invalid_org_claim',
      message:
        'the value at "org.id" in the token\'s "https://example.com/tenant" claim lists 2 organisations; exactly one is accepted',
    });
  });
});
