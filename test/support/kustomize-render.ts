/**
 * Renders the kustomizations under deploy/kubernetes the way `kubectl kustomize` does, for the
 * small subset of kustomize they use: resources (files and directories), configMapGenerator
 * (literals, behavior create|merge, generatorOptions.labels, the content-hash name suffix),
 * JSON 6902 patches with a kind/name target, images and namespace. Anything else in a
 * kustomization is refused, so the manifests cannot drift into features this renderer (and the
 * test that compares it with kubectl) does not understand.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

type Generated = { object: KubeObject; baseName: string };

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  generatorOptions?: { labels?: Record<string, string> };
  configMapGenerator?: { name: string; behavior?: 'create' | 'merge'; literals?: string[] }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}

const KNOWN_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'generatorOptions',
  'configMapGenerator',
  'images',
  'patches',
]);

/** Kinds whose pod template (spec.template.spec) may hold containers and config map references. */
const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

/** Objects of a kustomization directory, in no particular order (compare them sorted). */
export function renderKustomization(dir: string): KubeObject[] {
  const { objects, generated } = build(resolve(dir));
  // Hash suffixes come last, on the final content, and every reference follows the new name.
  const renames = new Map<string, string>();
  for (const { object, baseName } of generated) {
    const suffixed = `${baseName}-${configMapHash(object)}`;
    object.metadata.name = suffixed;
    renames.set(baseName, suffixed);
  }
  for (const object of objects) renameConfigMapReferences(object, renames);
  return objects;
}

function build(dir: string): { objects: KubeObject[]; generated: Generated[] } {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length)
    throw new Error(`${dir}: kustomization fields not rendered here: ${unknown.join(', ')}`);
  if (k.kind !== 'Kustomization') throw new Error(`${dir}: kind ${k.kind} is not rendered here`);

  const objects: KubeObject[] = [];
  const generated: Generated[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      const base = build(path);
      objects.push(...base.objects);
      generated.push(...base.generated);
    } else {
      for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
        if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0].message}`);
        const object = doc.toJS() as KubeObject | null;
        if (object) objects.push(object);
      }
    }
  }

  for (const generator of k.configMapGenerator ?? []) {
    const data = Object.fromEntries((generator.literals ?? []).map(splitLiteral));
    const existing = generated.find((g) => g.baseName === generator.name);
    if (generator.behavior === 'merge') {
      if (!existing) throw new Error(`${dir}: merge into unknown ConfigMap ${generator.name}`);
      existing.object.data = { ...(existing.object.data as Record<string, string>), ...data };
      continue;
    }
    if (existing) throw new Error(`${dir}: ConfigMap ${generator.name} generated twice`);
    const labels = k.generatorOptions?.labels;
    const object: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: generator.name, ...(labels ? { labels: { ...labels } } : {}) },
      data,
    };
    objects.push(object);
    generated.push({ object, baseName: generator.name });
  }

  for (const { target, patch } of k.patches ?? []) {
    const matches = objects.filter((o) => o.kind === target.kind && o.metadata.name === target.name);
    if (matches.length !== 1) throw new Error(`${dir}: patch target ${target.kind}/${target.name} not found`);
    const operations = parseYaml(patch) as JsonPatchOperation[];
    for (const operation of operations) applyOperation(matches[0], operation);
  }

  for (const image of k.images ?? []) {
    for (const object of objects) {
      for (const container of podContainers(object)) {
        const { name, tag } = splitImage(container.image as string);
        if (name !== image.name) continue;
        container.image = `${image.newName ?? name}${image.newTag !== undefined ? `:${image.newTag}` : tag}`;
      }
    }
  }

  if (k.namespace) for (const object of objects) object.metadata.namespace = k.namespace;
  return { objects, generated };
}

function splitLiteral(literal: string): [string, string] {
  const at = literal.indexOf('=');
  if (at < 1) throw new Error(`configMapGenerator literal without a name: ${literal}`);
  return [literal.slice(0, at), literal.slice(at + 1)];
}

/** `name[:tag]`; a registry port (`host:5000/x`) is part of the name, not a tag. */
function splitImage(image: string): { name: string; tag: string } {
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { name: image.slice(0, colon), tag: image.slice(colon) };
  return { name: image, tag: '' };
}

function podSpec(object: KubeObject): Record<string, unknown> | undefined {
  if (!POD_TEMPLATE_KINDS.has(object.kind)) return undefined;
  const spec = object.spec as { template?: { spec?: Record<string, unknown> } } | undefined;
  return spec?.template?.spec;
}

function podContainers(object: KubeObject): Record<string, unknown>[] {
  const spec = podSpec(object);
  if (!spec) return [];
  return [...((spec.initContainers as never[]) ?? []), ...((spec.containers as never[]) ?? [])];
}

function renameConfigMapReferences(object: KubeObject, renames: Map<string, string>): void {
  const rename = (ref: { name?: string } | undefined) => {
    if (ref?.name && renames.has(ref.name)) ref.name = renames.get(ref.name);
  };
  for (const container of podContainers(object)) {
    for (const source of (container.envFrom as { configMapRef?: { name?: string } }[]) ?? []) {
      rename(source.configMapRef);
    }
    for (const variable of (container.env as { valueFrom?: { configMapKeyRef?: { name?: string } } }[]) ??
      []) {
      rename(variable.valueFrom?.configMapKeyRef);
    }
  }
  for (const volume of (podSpec(object)?.volumes as { configMap?: { name?: string } }[]) ?? []) {
    rename(volume.configMap);
  }
}

/**
 * kustomize's content hash of a ConfigMap: SHA-256 of Go's JSON encoding (sorted keys, HTML
 * characters escaped) of {data, kind, name}, first ten hex digits with 0 1 3 a e spelled g h k m t
 * so the suffix never reads as a number or a word. kustomize 5 encodes `name` as an empty string
 * (whatever the map is called), so only the data decides the suffix; done the same here.
 */
export function configMapHash(object: KubeObject): string {
  const encoded = goJson({ data: object.data ?? {}, kind: 'ConfigMap', name: '' });
  const hex = createHash('sha256').update(encoded).digest('hex').slice(0, 10);
  const spelled: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex].map((c) => spelled[c] ?? c).join('');
}

function goJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([key, v]) => `${goJson(key)}:${goJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

type JsonPatchOperation = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

/** RFC 6902 add, replace and remove; other operations are refused. */
function applyOperation(document: KubeObject, operation: JsonPatchOperation): void {
  const tokens = operation.path
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop();
  if (last === undefined) throw new Error(`patch path ${operation.path} addresses the whole object`);
  let parent: unknown = document;
  for (const token of tokens) {
    parent = (parent as Record<string, unknown>)?.[token];
    if (parent === undefined || parent === null)
      throw new Error(`patch path ${operation.path} does not exist`);
  }
  const value = structuredClone(operation.value);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw new Error(`patch path ${operation.path}: bad index`);
    }
    if (operation.op === 'add') parent.splice(index, 0, value);
    else if (index >= parent.length) throw new Error(`patch path ${operation.path} does not exist`);
    else if (operation.op === 'replace') parent[index] = value;
    else if (operation.op === 'remove') parent.splice(index, 1);
    else throw new Error(`patch operation ${String(operation.op)} is not rendered here`);
    return;
  }
  const record = parent as Record<string, unknown>;
  if (operation.op === 'add') record[last] = value;
  else if (!(last in record)) throw new Error(`patch path ${operation.path} does not exist`);
  else if (operation.op === 'replace') record[last] = value;
  else if (operation.op === 'remove') delete record[last];
  else throw new Error(`patch operation ${String(operation.op)} is not rendered here`);
}
