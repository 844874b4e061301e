import { UrlSigner, type SignInput } from 'src/attachments/attachment.signer';

const KEY_A = 'a'.repeat(24) + '-first-signing-key';
const KEY_B = 'b'.repeat(24) + '-second-signing-key';
const KEY_C = 'c'.repeat(24) + '-unrelated-signing-key';

const NOW = new Date('2030-01-01T00:00:00Z');
const clock = () => NOW;

function input(overrides: Partial<SignInput> = {}): SignInput {
  return {
    id: 'atc_1234abcd',
    purpose: 'download',
    expiresAt: new Date(NOW.getTime() + 60_000),
    ...overrides,
  };
}

describe('UrlSigner', () => {
  const signer = new UrlSigner({ currentKey: KEY_A, now: clock });

  it('verifies what it signed, with and without a disposition', () => {
    const plain = signer.sign(input());
    expect(plain.exp).toBe(NOW.getTime() / 1000 + 60);
    expect(plain.disp).toBeUndefined();
    expect(
      signer.verify({ id: 'atc_1234abcd', purpose: 'download', exp: String(plain.exp), sig: plain.sig }),
    ).toEqual({
      ok: true,
    });

    const inline = signer.sign(input({ disposition: 'inline' }));
    expect(inline.disp).toBe('inline');
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...inline })).toEqual({ ok: true });
  });

  it('accepts only the canonical spelling of the MAC: the unused bits of its last character are zero', () => {
    const signed = signer.sign(input());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signed.sig[signed.sig.length - 1]);
    // A 32-byte MAC is 43 base64url characters; the last carries 4 bits of it and 2 unused ones.
    expect(last & 3).toBe(0);
    for (const unused of [1, 2, 3]) {
      const sig = signed.sig.slice(0, -1) + alphabet[last ^ unused];
      // The decoder ignores those bits, so the bytes are the same: only the spelling differs.
      expect(Buffer.from(sig.split('.')[1], 'base64url')).toEqual(
        Buffer.from(signed.sig.split('.')[1], 'base64url'),
      );
      expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', exp: signed.exp, sig })).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
    }
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...signed })).toEqual({ ok: true });
  });

  it('rejects an expired link only after checking it is genuine', () => {
    const signed = signer.sign(input({ expiresAt: new Date(NOW.getTime() - 1000) }));
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...signed })).toEqual({
      ok: false,
      reason: 'expired',
    });
    // The expiry instant itself is already expired.
    const edge = signer.sign(input({ expiresAt: NOW }));
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...edge })).toMatchObject({
      reason: 'expired',
    });
    const tamperedExpired = { ...signed, sig: signer.sign(input({ id: 'atc_other' })).sig };
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...tamperedExpired })).toMatchObject({
      reason: 'bad_signature',
    });
  });

  it('rejects a link whose id, purpose, expiry or disposition was changed', () => {
    const signed = signer.sign(input({ disposition: 'attachment' }));
    const base = { id: 'atc_1234abcd', purpose: 'download' as const, ...signed };
    expect(signer.verify(base)).toEqual({ ok: true });
    expect(signer.verify({ ...base, id: 'atc_1234abce' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify({ ...base, purpose: 'upload' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify({ ...base, exp: signed.exp + 3600 })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(signer.verify({ ...base, disp: 'inline' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(signer.verify({ ...base, disp: undefined })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a flipped signature character', () => {
    const signed = signer.sign(input());
    const last = signed.sig.at(-2) === 'A' ? 'B' : 'A';
    const sig = signed.sig.slice(0, -2) + last + signed.sig.slice(-1);
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', exp: signed.exp, sig })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('calls malformed input malformed', () => {
    const signed = signer.sign(input());
    const base = {
      id: 'atc_1234abcd',
      purpose: 'download' as const,
      exp: String(signed.exp),
      sig: signed.sig,
    };
    const bad = [
      { ...base, exp: undefined },
      { ...base, exp: ['1', '2'] },
      { ...base, exp: '12abc' },
      { ...base, exp: '-5' },
      { ...base, exp: '1.5' },
      { ...base, sig: undefined },
      { ...base, sig: signed.sig + 'x' },
      { ...base, sig: signed.sig.replace('.', '') },
      { ...base, sig: ['a', 'b'] },
      { ...base, disp: 'download' },
      { ...base, id: '' },
      { ...base, id: 'atc\n1' },
    ];
    for (const params of bad) {
      expect(signer.verify(params)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('keeps links signed with a previous key valid after rotation', () => {
    const oldSigner = new UrlSigner({ currentKey: KEY_A, now: clock });
    const oldLink = oldSigner.sign(input({ purpose: 'upload' }));
    const rotated = new UrlSigner({ currentKey: KEY_B, previousKeys: [KEY_A], now: clock });
    expect(rotated.verify({ id: 'atc_1234abcd', purpose: 'upload', ...oldLink })).toEqual({ ok: true });

    const newLink = rotated.sign(input({ purpose: 'upload' }));
    expect(newLink.sig.split('.')[0]).not.toBe(oldLink.sig.split('.')[0]);
    expect(rotated.verify({ id: 'atc_1234abcd', purpose: 'upload', ...newLink })).toEqual({ ok: true });
    // The old deployment does not know the new key.
    expect(oldSigner.verify({ id: 'atc_1234abcd', purpose: 'upload', ...newLink })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects links signed with a key it does not hold, even under a known key id', () => {
    const stranger = new UrlSigner({ currentKey: KEY_C, now: clock });
    const foreign = stranger.sign(input());
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', ...foreign })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const ownKid = signer.sign(input()).sig.split('.')[0];
    const forged = `${ownKid}.${foreign.sig.split('.')[1]}`;
    expect(signer.verify({ id: 'atc_1234abcd', purpose: 'download', exp: foreign.exp, sig: forged })).toEqual(
      {
        ok: false,
        reason: 'bad_signature',
      },
    );
  });

  it('builds a query string that verifies when read back', () => {
    const query = new URLSearchParams(signer.signedQuery(input({ disposition: 'inline' })));
    expect([...query.keys()].sort()).toEqual(['disp', 'exp', 'sig']);
    const result = signer.verify({
      id: 'atc_1234abcd',
      purpose: 'download',
      exp: query.get('exp') ?? undefined,
      sig: query.get('sig') ?? undefined,
      disp: query.get('disp') ?? undefined,
    });
    expect(result).toEqual({ ok: true });
  });

  it('refuses short keys and unusable input', () => {
    expect(() => new UrlSigner({ currentKey: 'short' })).toThrow(/at least 32/);
    expect(() => new UrlSigner({ currentKey: KEY_A, previousKeys: ['x'.repeat(31)] })).toThrow(/at least 32/);
    expect(() => signer.sign(input({ id: '' }))).toThrow();
    expect(() => signer.sign(input({ expiresAt: new Date(NaN) }))).toThrow();
  });

  it('uses the real clock by default', () => {
    const real = new UrlSigner({ currentKey: KEY_A });
    const fresh = real.sign({ id: 'atc_x', purpose: 'download', expiresAt: new Date(Date.now() + 60_000) });
    const stale = real.sign({ id: 'atc_x', purpose: 'download', expiresAt: new Date(Date.now() - 60_000) });
    expect(real.verify({ id: 'atc_x', purpose: 'download', ...fresh })).toEqual({ ok: true });
    expect(real.verify({ id: 'atc_x', purpose: 'download', ...stale })).toMatchObject({ reason: 'expired' });
  });
});
