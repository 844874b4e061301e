/**
 * Loads one configuration namespace from exactly the environment a spec gives it (nothing of the
 * process's own environment leaks in), and lists the problems it refuses the environment with.
 */
import { ConfigValidationError } from 'src/config/env.schema';

export function namespaceUnderTest<T>(factory: () => T): {
  load(env?: Record<string, string>): T;
  problems(env: Record<string, string>): string[];
} {
  const load = (env: Record<string, string> = {}): T => {
    const saved = process.env;
    process.env = { ...env };
    try {
      return factory();
    } finally {
      process.env = saved;
    }
  };
  const problems = (env: Record<string, string>): string[] => {
    try {
      load(env);
    } catch (error) {
      if (error instanceof ConfigValidationError) return error.problems;
      throw error;
    }
    return [];
  };
  return { load, problems };
}
