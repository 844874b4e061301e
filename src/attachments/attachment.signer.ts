/**
 * Signs and verifies the expiring URLs we hand out for attachment bytes: the upload target in an
 * `upload_descriptor` and the download link used for `preview_url` and for the model. A signature
 * binds the attachment id, the purpose, the expiry and the disposition, so none of them can be
 * changed without invalidating it. Keys can be rotated: the current key signs, previous keys still
 * verify. It must never accept an unsigned or expired request and never reveal a key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { MIN_SIGNING_KEY_LENGTH } from 'src/config/attachments.config';

export type SignedUrlPurpose = 'download' | 'upload';
export type SignedUrlDisposition = 'inline' | 'attachment';

export interface UrlSignerOptions {
  currentKey: string;
  previousKeys?: string[];
  /** Injected clock for tests; defaults to the system clock. */
  now?: () => Date;
}

export interface SignInput {
  id: string;
  purpose: SignedUrlPurpose;
  expiresAt: Date;
  disposition?: SignedUrlDisposition;
}

export interface SignedParams {
  /** Expiry, Unix seconds. */
  exp: number;
  /** `<key id>.<base64url HMAC-SHA256>` */
  sig: string;
  disp?: SignedUrlDisposition;
}

/** What a route hands over: the id from the path, the rest straight from the query string. */
export interface VerifyInput {
  id: string;
  purpose: SignedUrlPurpose;
  exp: unknown;
  sig: unknown;
  disp?: unknown;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'expired' | 'bad_signature' | 'malformed' };

const KID_LENGTH = 8;
const MAC_B64_LENGTH = 43; // 32 bytes in unpadded base64url
const SIG_FORMAT = new RegExp(`^([A-Za-z0-9_-]{${KID_LENGTH}})\\.([A-Za-z0-9_-]{${MAC_B64_LENGTH}})$`);
const EXP_FORMAT = /^[1-9]\d{0,11}$/;
// Derivation labels keep these MACs from ever colliding with other uses of the same secret.
const KID_LABEL = 'chatkit-gateway/attachment-url/kid';
const MAC_LABEL = 'chatkit-gateway/attachment-url/v1';

interface SigningKey {
  kid: string;
  macKey: Buffer;
}

export class UrlSigner {
  private readonly current: SigningKey;
  private readonly byKid: Map<string, SigningKey>;
  private readonly now: () => Date;

  constructor(opts: UrlSignerOptions) {
    const secrets = [opts.currentKey, ...(opts.previousKeys ?? [])];
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length < MIN_SIGNING_KEY_LENGTH) {
        throw new Error(`URL signing keys must be at least ${MIN_SIGNING_KEY_LENGTH} characters long`);
      }
    }
    const keys = secrets.map(deriveKey);
    this.current = keys[0];
    this.byKid = new Map();
    for (const key of keys) {
      // Two secrets whose ids collide would make verification ambiguous; refusing is cheap.
      const existing = this.byKid.get(key.kid);
      if (existing && !existing.macKey.equals(key.macKey)) {
        throw new Error('two URL signing keys share a key id; replace one of them');
      }
      this.byKid.set(key.kid, key);
    }
    this.now = opts.now ?? (() => new Date());
  }

  sign(input: SignInput): SignedParams {
    assertId(input.id);
    const expMs = input.expiresAt.getTime();
    if (!Number.isFinite(expMs)) throw new Error('expiresAt is not a valid date');
    // Rounded up so a link is never shorter-lived than asked for.
    const exp = Math.ceil(expMs / 1000);
    const mac = computeMac(this.current.macKey, input.id, input.purpose, exp, input.disposition);
    const signed: SignedParams = { exp, sig: `${this.current.kid}.${mac.toString('base64url')}` };
    if (input.disposition) signed.disp = input.disposition;
    return signed;
  }

  /** The query string (without `?`) to append to the attachment's URL. */
  signedQuery(input: SignInput): string {
    const signed = this.sign(input);
    const query = new URLSearchParams({ exp: String(signed.exp), sig: signed.sig });
    if (signed.disp) query.set('disp', signed.disp);
    return query.toString();
  }

  verify(input: VerifyInput): VerifyResult {
    if (typeof input.id !== 'string' || !isValidId(input.id)) return malformed();
    if (input.purpose !== 'download' && input.purpose !== 'upload') return malformed();
    if (typeof input.exp !== 'string' && typeof input.exp !== 'number') return malformed();
    const expText = String(input.exp);
    if (!EXP_FORMAT.test(expText)) return malformed();
    const exp = Number(expText);
    if (typeof input.sig !== 'string') return malformed();
    const sigMatch = SIG_FORMAT.exec(input.sig);
    if (!sigMatch) return malformed();
    let disposition: SignedUrlDisposition | undefined;
    if (input.disp !== undefined) {
      if (input.disp !== 'inline' && input.disp !== 'attachment') return malformed();
      disposition = input.disp;
    }

    const key = this.byKid.get(sigMatch[1]);
    if (!key) return { ok: false, reason: 'bad_signature' };
    const expected = computeMac(key.macKey, input.id, input.purpose, exp, disposition);
    const given = Buffer.from(sigMatch[2], 'base64url');
    // The decoder ignores the unused low bits of the last character, so four spellings decode to
    // the same bytes; only the one we issue is accepted, or a link would have four valid forms.
    const canonical = given.toString('base64url') === sigMatch[2];
    if (!canonical || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'bad_signature' };
    }
    // Checked after the signature so that "expired" is only ever said of a link we really issued.
    if (exp * 1000 <= this.now().getTime()) return { ok: false, reason: 'expired' };
    return { ok: true };
  }
}

function deriveKey(secret: string): SigningKey {
  const kid = createHmac('sha256', secret).update(KID_LABEL).digest('base64url').slice(0, KID_LENGTH);
  const macKey = createHmac('sha256', secret).update(MAC_LABEL).digest();
  return { kid, macKey };
}

function computeMac(
  macKey: Buffer,
  id: string,
  purpose: SignedUrlPurpose,
  exp: number,
  disposition: SignedUrlDisposition | undefined,
): Buffer {
  // JSON array: unambiguous whatever characters the id holds, and "no disposition" differs from any value.
  const canonical = JSON.stringify([id, purpose, exp, disposition ?? null]);
  return createHmac('sha256', macKey).update(canonical).digest();
}

function isValidId(id: string): boolean {
  // eslint-disable-next-line no-control-regex
  return id.length > 0 && id.length <= 256 && !/[\u0000-\u001f\u007f]/.test(id);
}

function assertId(id: string): void {
  if (typeof id !== 'string' || !isValidId(id))
    throw new Error('attachment id must be 1-256 printable characters');
}

function malformed(): VerifyResult {
  return { ok: false, reason: 'malformed' };
}
