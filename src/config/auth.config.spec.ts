import { authConfig } from 'src/config/auth.config';
import { namespaceUnderTest } from 'test/support/config-namespace';

const { load, problems } = namespaceUnderTest(authConfig);

describe('auth config: claims and token lifetime', () => {
  it('requires exp, limits no token age, reads no org and requires none by default', () => {
    expect(load()).toMatchObject({
      userClaim: 'sub',
      orgClaim: undefined,
      orgClaimPath: [],
      orgRequired: false,
      requireExp: true,
      maxTokenAgeS: undefined,
    });
  });

  it('takes the org claim name verbatim and the path inside it apart', () => {
    expect(
      load({
        AUTH_ORG_CLAIM: 'https://example.com/org.v1',
        AUTH_ORG_CLAIM_PATH: 'org.id',
        AUTH_ORG_REQUIRED: 'true',
        AUTH_REQUIRE_EXP: 'false',
        AUTH_MAX_TOKEN_AGE_S: '3600',
      }),
    ).toMatchObject({
      orgClaim: 'https://example.com/org.v1',
      orgClaimPath: ['org', 'id'],
      orgRequired: true,
      requireExp: false,
      maxTokenAgeS: 3600,
    });
  });

  it.each([
    [
      { AUTH_ORG_CLAIM: 'o', AUTH_ORG_CLAIM_PATH: 'org..id' },
      /^AUTH_ORG_CLAIM_PATH: expected property names/,
    ],
    [{ AUTH_ORG_CLAIM: 'o', AUTH_ORG_CLAIM_PATH: '.id' }, /^AUTH_ORG_CLAIM_PATH: expected property names/],
    [
      { AUTH_ORG_CLAIM: 'o', AUTH_ORG_CLAIM_PATH: 'org. id' },
      /^AUTH_ORG_CLAIM_PATH: expected property names/,
    ],
    [{ AUTH_ORG_CLAIM_PATH: 'id' }, /^AUTH_ORG_CLAIM_PATH: needs AUTH_ORG_CLAIM/],
    [{ AUTH_ORG_REQUIRED: 'true' }, /^AUTH_ORG_REQUIRED: needs AUTH_ORG_CLAIM/],
    [{ AUTH_MAX_TOKEN_AGE_S: '0' }, /^AUTH_MAX_TOKEN_AGE_S: expected an integer in \[1, 31536000\]/],
    [{ AUTH_MAX_TOKEN_AGE_S: '1.5' }, /^AUTH_MAX_TOKEN_AGE_S: expected an integer/],
    [{ AUTH_REQUIRE_EXP: 'maybe' }, /^AUTH_REQUIRE_EXP: /],
  ])('refuses %j', (env, problem) => {
    expect(problems(env)).toEqual([expect.stringMatching(problem)]);
  });
});
