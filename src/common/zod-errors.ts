/** Turns zod issues into one short message that names each failing field by its path. */
import type { z } from 'zod';

export function formatIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const parts = issues.slice(0, max).map((issue) => {
    const path = issue.path.length ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${String(p)}` : String(p))).join('') : '(body)';
    return `${path}: ${issue.message}`;
  });
  if (issues.length > max) parts.push(`and ${issues.length - max} more problem(s)`);
  return parts.join('; ');
}
