import { attachmentsConfig } from 'src/config/attachments.config';
import { namespaceUnderTest } from 'test/support/config-namespace';

const { load, problems } = namespaceUnderTest(attachmentsConfig);

const KEY = 'k'.repeat(40);

describe('attachments config', () => {
  it('has working defaults outside production, with a generated signing key', () => {
    const a = load({});
    const b = load({});
    expect(a.storage).toBe('postgres');
    expect(a.maxBytes).toBe(20 * 1024 * 1024);
    expect(a.userQuotaBytes).toBe(500 * 1024 * 1024);
    expect(a.allowedMimeTypes).toContain('image/png');
    expect(a.signingKeyGenerated).toBe(true);
    expect(a.signingKey.length).toBeGreaterThanOrEqual(32);
    expect(a.signingKey).not.toBe(b.signingKey);
  });

  it('requires a signing key in production, and long keys everywhere', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/^ATTACHMENTS_SIGNING_KEY: required/),
    ]);
    expect(problems({ NODE_ENV: 'production', ATTACHMENTS_SIGNING_KEY: KEY })).toEqual([]);
    expect(problems({ ATTACHMENTS_SIGNING_KEY: 'short' })[0]).toMatch(/at least 32/);
    expect(problems({ ATTACHMENTS_SIGNING_KEY: KEY, ATTACHMENTS_SIGNING_KEYS_PREVIOUS: 'short' })[0]).toMatch(
      /at least 32/,
    );
  });

  it('names every bad variable at once', () => {
    const found = problems({
      ATTACHMENTS_STORAGE: 's3',
      S3_ACCESS_KEY_ID: 'only-one',
      ATTACHMENTS_ALLOWED_MIME: 'image/png,image/svg+xml,not a type',
    });
    expect(found).toEqual([
      expect.stringMatching(/^S3_BUCKET/),
      expect.stringMatching(/^S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY/),
      expect.stringMatching(/^ATTACHMENTS_ALLOWED_MIME: not MIME types: not a type/),
      expect.stringMatching(/^ATTACHMENTS_ALLOWED_MIME: image\/svg\+xml/),
    ]);
    expect(problems({ ATTACHMENTS_STORAGE: 'ftp' })[0]).toMatch(/^ATTACHMENTS_STORAGE/);
  });

  it('reads the S3 settings', () => {
    const c = load({
      ATTACHMENTS_STORAGE: 's3',
      S3_BUCKET: 'b',
      S3_ENDPOINT: 'http://minio:9000',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_KEY_PREFIX: 'chatkit/',
    });
    expect(c.s3).toEqual({
      bucket: 'b',
      region: 'us-east-1',
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
      keyPrefix: 'chatkit/',
      presignedUploads: false,
    });
  });
});
