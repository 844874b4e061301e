/**
 * Where a profiled frame's code lives, for the profile summaries (bench/cpu-profile-summary.ts,
 * bench/heap-sampling.ts): `pkg:<name>` for an npm package, `app:<path>` for a file of the app
 * (source or build), `node:<module>` for a builtin, or a V8 pseudo-frame such as `(garbage
 * collector)`; `(native)` for other frames without a script.
 */
export function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  if (url.startsWith('node:')) return url;
  const app = /\/(dist\/)?(src\/.+)$/.exec(url);
  return app ? `app:${app[2]}` : url;
}
