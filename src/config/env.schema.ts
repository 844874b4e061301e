/**
 * Shared zod helpers for reading environment variables. Every config namespace parses
 * process.env through these so that a bad value is reported with the variable's name and the
 * process refuses to boot; nothing here may read a variable without validating it.
 */
import { z } from 'zod';

export const envBoolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : ['true', '1', 'yes', 'on'].includes(v)));

export const envInt = (fallback: number, opts: { min?: number; max?: number } = {}) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `expected an integer, got "${v}"` });
        return z.NEVER;
      }
      if (opts.min !== undefined && n < opts.min) {
        ctx.addIssue({ code: 'custom', message: `must be >= ${opts.min}, got ${n}` });
        return z.NEVER;
      }
      if (opts.max !== undefined && n > opts.max) {
        ctx.addIssue({ code: 'custom', message: `must be <= ${opts.max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

/** An integer that may be left unset (undefined), for limits that are off unless configured. */
export const envOptionalInt = (opts: { min?: number; max?: number } = {}) =>
  z
    .string()
    .optional()
    .transform((v, ctx): number | undefined => {
      if (v === undefined || v.trim() === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `expected an integer, got "${v}"` });
        return z.NEVER;
      }
      if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected an integer in [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}], got ${n}`,
        });
        return z.NEVER;
      }
      return n;
    });

export const envNumber = (fallback: number, opts: { min?: number; max?: number } = {}) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (
        !Number.isFinite(n) ||
        (opts.min !== undefined && n < opts.min) ||
        (opts.max !== undefined && n > opts.max)
      ) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a number in [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}], got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    });

export const envString = (fallback?: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? fallback : v.trim()));

/** One of `choices`; unset or blank gives `fallback`. */
export const envChoice = <T extends string>(choices: readonly T[], fallback: T) =>
  envString().transform((v, ctx) => {
    if (v === undefined) return fallback;
    if (!(choices as readonly string[]).includes(v)) {
      ctx.addIssue({ code: 'custom', message: `expected one of ${choices.join(', ')}, got "${v}"` });
      return z.NEVER;
    }
    return v as T;
  });

export const envUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        const url = new URL(v.trim());
        if (!protocols.includes(url.protocol)) throw new Error('protocol');
        return v.trim();
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL` });
        return z.NEVER;
      }
    });

export const envList = (fallback: string[] = []) =>
  z
    .string()
    .optional()
    .transform((v) =>
      v === undefined || v.trim() === ''
        ? fallback
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    );

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Parses the variables a namespace owns; every failing variable is named in the error. */
export function parseEnv<T extends z.ZodRawShape>(
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<T>> {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) picked[key] = env[key];
  const result = z.object(shape).safeParse(picked);
  if (!result.success) {
    throw new ConfigValidationError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}
