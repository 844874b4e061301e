/**
 * Attachments: where the bytes live (PostgreSQL, a directory or an S3 bucket), what may be
 * uploaded, how much each user may keep, how long signed links live and when abandoned uploads
 * are swept. The URL signing key is required in production; elsewhere a random one is made per
 * process (links then die with the process, and replicas cannot read each other's links).
 */
import { randomBytes } from 'node:crypto';
import { registerAs } from '@nestjs/config';
import { z } from 'zod';
import { DEFAULT_ALLOWED_MIME_TYPES, normalizeMimeType } from 'src/config/attachment-types';
import {
  ConfigValidationError,
  envBoolean,
  envInt,
  envList,
  envString,
  envUrl,
  parseEnv,
} from 'src/config/env.schema';

const MIME_ENTRY = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

/** Shortest signing key accepted: an HMAC key shorter than this is guessable. */
export const MIN_SIGNING_KEY_LENGTH = 32;

export const attachmentsEnvShape = {
  ATTACHMENTS_STORAGE: z.enum(['postgres', 'filesystem', 's3']).optional().default('postgres'),
  ATTACHMENTS_DIR: envString('./.data/attachments'),
  S3_BUCKET: envString(),
  S3_REGION: envString('us-east-1'),
  S3_ENDPOINT: envUrl(['http:', 'https:']),
  S3_FORCE_PATH_STYLE: envBoolean(false),
  S3_ACCESS_KEY_ID: envString(),
  S3_SECRET_ACCESS_KEY: envString(),
  S3_KEY_PREFIX: envString(''),
  ATTACHMENTS_S3_PRESIGNED_UPLOADS: envBoolean(false),
  CHATKIT_ATTACHMENT_MAX_MB: envInt(20, { min: 1, max: 10_240 }),
  ATTACHMENTS_ALLOWED_MIME: envList([...DEFAULT_ALLOWED_MIME_TYPES]),
  ATTACHMENTS_USER_QUOTA_MB: envInt(500, { min: 0, max: 10_000_000 }),
  ATTACHMENTS_SIGNING_KEY: envString(),
  ATTACHMENTS_SIGNING_KEYS_PREVIOUS: envList([]),
  ATTACHMENTS_URL_TTL_S: envInt(3600, { min: 10, max: 7 * 24 * 3600 }),
  ATTACHMENTS_UPLOAD_TTL_S: envInt(900, { min: 10, max: 7 * 24 * 3600 }),
  ATTACHMENTS_PENDING_TTL_H: envInt(24, { min: 1, max: 24 * 365 }),
  ATTACHMENTS_UNLINKED_TTL_H: envInt(72, { min: 1, max: 24 * 365 }),
  ATTACHMENTS_CLEANUP_INTERVAL_S: envInt(3600, { min: 0, max: 7 * 24 * 3600 }),
  NODE_ENV: z.string().optional(),
};

export const attachmentsConfig = registerAs('attachments', () => {
  const env = parseEnv(attachmentsEnvShape);
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  if (env.ATTACHMENTS_STORAGE === 's3' && !env.S3_BUCKET) {
    problems.push('S3_BUCKET: required when ATTACHMENTS_STORAGE=s3');
  }
  if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: set both or neither');
  }
  if (env.S3_KEY_PREFIX && !/^([A-Za-z0-9_-][A-Za-z0-9_.-]*\/)+$/.test(env.S3_KEY_PREFIX)) {
    problems.push('S3_KEY_PREFIX: must be path segments of [A-Za-z0-9_.-] ending in "/", e.g. "chatkit/"');
  }
  const allowed = env.ATTACHMENTS_ALLOWED_MIME.map(normalizeMimeType);
  const badTypes = allowed.filter((t) => !MIME_ENTRY.test(t));
  if (badTypes.length) {
    problems.push(`ATTACHMENTS_ALLOWED_MIME: not MIME types: ${badTypes.join(', ')}`);
  }
  if (allowed.includes('image/svg+xml') || allowed.includes('text/html')) {
    // Markup can run script when opened from our origin; it stays out whatever the operator says.
    problems.push('ATTACHMENTS_ALLOWED_MIME: image/svg+xml and text/html cannot be allowed');
  }
  const keys = [env.ATTACHMENTS_SIGNING_KEY, ...env.ATTACHMENTS_SIGNING_KEYS_PREVIOUS].filter(
    (k): k is string => k !== undefined,
  );
  if (keys.some((k) => k.length < MIN_SIGNING_KEY_LENGTH)) {
    problems.push(
      `ATTACHMENTS_SIGNING_KEY / ATTACHMENTS_SIGNING_KEYS_PREVIOUS: each key must be at least ${MIN_SIGNING_KEY_LENGTH} characters`,
    );
  }
  if (!env.ATTACHMENTS_SIGNING_KEY && env.ATTACHMENTS_SIGNING_KEYS_PREVIOUS.length) {
    problems.push('ATTACHMENTS_SIGNING_KEYS_PREVIOUS: needs ATTACHMENTS_SIGNING_KEY as the current key');
  }
  if (production && !env.ATTACHMENTS_SIGNING_KEY) {
    problems.push('ATTACHMENTS_SIGNING_KEY: required when NODE_ENV=production (openssl rand -base64 48)');
  }
  if (problems.length) throw new ConfigValidationError(problems);

  const maxBytes = env.CHATKIT_ATTACHMENT_MAX_MB * 1024 * 1024;
  return {
    storage: env.ATTACHMENTS_STORAGE,
    dir: env.ATTACHMENTS_DIR!,
    s3: {
      bucket: env.S3_BUCKET,
      region: env.S3_REGION!,
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: env.S3_FORCE_PATH_STYLE,
      credentials:
        env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
          ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
          : undefined,
      keyPrefix: env.S3_KEY_PREFIX ?? '',
      presignedUploads: env.ATTACHMENTS_S3_PRESIGNED_UPLOADS,
    },
    maxBytes,
    allowedMimeTypes: allowed,
    userQuotaBytes: env.ATTACHMENTS_USER_QUOTA_MB * 1024 * 1024,
    signingKey: env.ATTACHMENTS_SIGNING_KEY ?? randomBytes(48).toString('base64url'),
    signingKeyGenerated: !env.ATTACHMENTS_SIGNING_KEY,
    previousSigningKeys: env.ATTACHMENTS_SIGNING_KEYS_PREVIOUS,
    downloadUrlTtlS: env.ATTACHMENTS_URL_TTL_S,
    uploadUrlTtlS: env.ATTACHMENTS_UPLOAD_TTL_S,
    pendingTtlMs: env.ATTACHMENTS_PENDING_TTL_H * 3600_000,
    unlinkedTtlMs: env.ATTACHMENTS_UNLINKED_TTL_H * 3600_000,
    cleanupIntervalMs: env.ATTACHMENTS_CLEANUP_INTERVAL_S * 1000,
  };
});

export type AttachmentsConfig = ReturnType<typeof attachmentsConfig>;
