/**
 * Summarises a V8 CPU profile (`node --cpu-prof`) by where the time was spent itself (self time):
 * per npm package, per file of the app, or per node: builtin, with the heaviest functions of each.
 * With `--windows` (the windows.json bench/request-floor.ts writes beside a profile) and `--op`,
 * only the samples taken while that operation was measured count, so boot and seeding are left
 * out. Samples where the process was idle are not counted.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/cpu-profile-summary.ts \
 *     <file.cpuprofile> [--windows <windows.json> --op 'GET /health/live'] [--top 25] [--functions 3]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { placeOf } from 'bench/support/profile-places';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    windows: { type: 'string' },
    op: { type: 'string' },
    top: { type: 'string', default: '25' },
    functions: { type: 'string', default: '3' },
  },
});

function main(): void {
  const file = positionals[0];
  if (!file) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [--windows w.json --op name]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  let window: { fromUs: number; toUs: number } | undefined;
  if (values.windows) {
    const windows = JSON.parse(readFileSync(values.windows, 'utf8')) as Record<
      string,
      { fromUs: number; toUs: number }
    >;
    window = windows[values.op ?? ''];
    if (!window) throw new Error(`no window "${values.op}"; known: ${Object.keys(windows).join(', ')}`);
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const places = new Map<string, { us: number; functions: Map<string, number> }>();
  let total = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const node = byId.get(profile.samples[i])!;
    if (node.callFrame.functionName === '(idle)') continue;
    const place = placeOf(node.callFrame.url, node.callFrame.functionName);
    const entry = places.get(place) ?? { us: 0, functions: new Map<string, number>() };
    entry.us += delta;
    const fn = `${node.callFrame.functionName || '(anonymous)'}:${node.callFrame.lineNumber + 1}`;
    entry.functions.set(fn, (entry.functions.get(fn) ?? 0) + delta);
    places.set(place, entry);
    total += delta;
  }
  const rows = [...places.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top));
  const lines = [
    `busy ${(total / 1000).toFixed(1)} ms${window ? ` in the window of "${values.op}"` : ''}`,
    '',
  ];
  lines.push('| self % | self ms | where | heaviest functions |', '|---|---|---|---|');
  for (const [place, entry] of rows) {
    const fns = [...entry.functions.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, Number(values.functions))
      .map(([fn, us]) => `${fn} ${(us / 1000).toFixed(1)}`)
      .join(', ');
    lines.push(
      `| ${((entry.us / total) * 100).toFixed(1)} | ${(entry.us / 1000).toFixed(1)} | ${place} | ${fns} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
