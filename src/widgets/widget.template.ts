/**
 * Widget templates: a widget tree in JSON whose strings may name values of a tool's output.
 * Pure functions only (no I/O, no Nest): check a template, fill it, and say what is wrong with a
 * tree, by path.
 *
 * The syntax, kept small on purpose:
 * - `"{{order.status}}"` — a string that is one placeholder takes the value's own type (a number
 *   stays a number, an object stays an object); a missing value drops the prop.
 * - `"Order {{order.id}} ({{order.items.length}} items)"` — placeholders inside a longer string
 *   are written as text; a missing value writes nothing.
 * - `{ "$each": "order.items", "as": "item", "template": { … } }` as an element of an array (a
 *   `children` list, a Select's `options`): one filled copy of `template` per element of the list
 *   at `order.items`, which is named `item` inside it (default `item`); `$index` is its position,
 *   from 0. A missing or non-list value gives no copies.
 * - `"$if": "order.items"` on a component: it is left out unless the value is there and not
 *   false, 0, "" or an empty list. On the root, a false `$if` means "show no widget".
 * A path is names and list positions joined by dots (`items.0.name`); `length` of a list or a
 * string is its length. Nothing is evaluated: no expressions, no calls.
 */
import { z } from 'zod';
import { formatZodError } from 'src/common/zod-errors';
import { WidgetTreeRootSchema, type WidgetTreeRoot } from 'src/widgets/widget.schema';

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const PATH = /^(\$index|[A-Za-z_][A-Za-z0-9_]*)(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EACH_KEYS = new Set(['$each', 'as', 'template']);
/** Renders as "leave this component out". */
const SKIP = Symbol('skip');

/** A JSON path in a template, as operators read it: `children[0].children[2].value`. */
function at(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path)
    out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment;
  return out || '(root)';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEach(value: unknown): value is { $each: unknown; as?: unknown; template: unknown } {
  return isObject(value) && '$each' in value;
}

/**
 * What is wrong with a template's placeholders and `$each` blocks, each naming its path. Checked
 * before the schema, so a typo in `{{…}}` is reported as such rather than as a bad prop.
 */
export function placeholderProblems(template: unknown): string[] {
  const problems: string[] = [];
  const walk = (node: unknown, path: (string | number)[], inArray: boolean): void => {
    if (typeof node === 'string') {
      const opened = (node.match(/\{\{/g) ?? []).length;
      const matches = [...node.matchAll(PLACEHOLDER)];
      if (opened !== matches.length || (node.match(/\}\}/g) ?? []).length !== matches.length)
        problems.push(`${at(path)}: unbalanced {{ }}`);
      for (const m of matches)
        if (!PATH.test(m[1]))
          problems.push(`${at(path)}: "{{${m[1]}}}" is not a path (names and list positions joined by dots)`);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((child, i) => walk(child, [...path, i], true));
      return;
    }
    if (!isObject(node)) return;
    if (isEach(node)) {
      if (!inArray) problems.push(`${at(path)}: $each may only appear as an element of a list`);
      const extra = Object.keys(node).filter((k) => !EACH_KEYS.has(k));
      if (extra.length) problems.push(`${at(path)}: unknown key(s) ${extra.join(', ')} beside $each`);
      if (typeof node.$each !== 'string' || !PATH.test(node.$each))
        problems.push(`${at(path)}.$each: expected a path such as "order.items"`);
      if (node.as !== undefined && (typeof node.as !== 'string' || !NAME.test(node.as)))
        problems.push(`${at(path)}.as: expected a name such as "item"`);
      if (!isObject(node.template)) problems.push(`${at(path)}.template: expected a component object`);
      else walk(node.template, [...path, 'template'], false);
      return;
    }
    if ('$if' in node && (typeof node.$if !== 'string' || !PATH.test(node.$if)))
      problems.push(`${at(path)}.$if: expected a path such as "order.items"`);
    if (typeof node.type === 'string' && WHOLE.test(node.type))
      problems.push(`${at(path)}.type: a component's type cannot be a placeholder`);
    for (const [key, value] of Object.entries(node)) if (key !== '$if') walk(value, [...path, key], false);
  };
  walk(template, [], false);
  return problems;
}

const MISSING = Symbol('missing');

function lookup(scope: Record<string, unknown>, path: string): unknown {
  let value: unknown = scope;
  for (const segment of path.split('.')) {
    if ((Array.isArray(value) || typeof value === 'string') && segment === 'length') value = value.length;
    else if (Array.isArray(value) && /^\d+$/.test(segment)) value = value[Number(segment)];
    else if (isObject(value) && Object.prototype.hasOwnProperty.call(value, segment)) value = value[segment];
    else return MISSING;
    if (value === undefined) return MISSING;
  }
  return value;
}

function truthy(value: unknown): boolean {
  if (value === MISSING || value === null || value === false || value === 0 || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

function asText(value: unknown): string {
  if (value === MISSING || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Fills a template (already checked with placeholderProblems) with `data`, which is in scope by
 * its own keys (anything but an object is in scope as `value`). The result is not validated:
 * call widgetProblems on it. undefined: the root's `$if` said to show nothing.
 */
export function renderTemplate(template: unknown, data: unknown): unknown {
  const root: Record<string, unknown> = isObject(data) ? { ...data } : { value: data };
  const fill = (node: unknown, scope: Record<string, unknown>): unknown => {
    if (typeof node === 'string') {
      const whole = WHOLE.exec(node);
      if (whole) return lookup(scope, whole[1]);
      return node.replace(PLACEHOLDER, (_, path: string) => asText(lookup(scope, path)));
    }
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (const child of node) {
        if (isEach(child)) {
          const list = lookup(scope, child.$each as string);
          if (!Array.isArray(list)) continue;
          const name = (child.as as string | undefined) ?? 'item';
          list.forEach((entry, index) => {
            const value = fill(child.template, { ...scope, [name]: entry, $index: index });
            if (value !== SKIP) out.push(value);
          });
          continue;
        }
        const value = fill(child, scope);
        if (value !== MISSING && value !== SKIP) out.push(value);
      }
      return out;
    }
    if (!isObject(node)) return node;
    if ('$if' in node && !truthy(lookup(scope, node.$if as string))) return SKIP;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$if') continue;
      const filled = fill(value, scope);
      if (filled !== MISSING && filled !== SKIP) out[key] = filled;
    }
    return out;
  };
  const result = fill(template, root);
  return result === MISSING || result === SKIP ? undefined : result;
}

/**
 * What makes `tree` not a widget ChatKit.js renders, as one line naming each bad node by path
 * (e.g. `children[1].size: expected one of sm, md, lg`); null when it is one. With
 * `template: true`, props whose value is a whole-string placeholder are not judged: their type is
 * only known once filled.
 */
export function widgetProblems(tree: unknown, options: { template?: boolean } = {}): string | null {
  const subject = options.template ? expandEachOnce(tree) : tree;
  const parsed = WidgetTreeRootSchema.safeParse(subject);
  if (parsed.success) return null;
  const issues = options.template
    ? parsed.error.issues.filter((issue) => !isPlaceholderAt(subject, issue.path))
    : parsed.error.issues;
  if (!issues.length) return null;
  return formatZodError(new z.ZodError(issues), subject);
}

/** Narrows a tree known to be valid (widgetProblems returned null) to its type. */
export function asWidget(tree: unknown): WidgetTreeRoot {
  return tree as WidgetTreeRoot;
}

/** A template with each `$each` block replaced by its one `template`, so the schema can judge it. */
function expandEachOnce(node: unknown): unknown {
  if (Array.isArray(node)) return node.map((child) => expandEachOnce(isEach(child) ? child.template : child));
  if (!isObject(node)) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => k !== '$if')
      .map(([k, v]) => [k, expandEachOnce(v)]),
  );
}

function isPlaceholderAt(root: unknown, path: readonly PropertyKey[]): boolean {
  let value: unknown = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return typeof value === 'string' && WHOLE.test(value);
}
