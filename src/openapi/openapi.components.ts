/**
 * `components.schemas` from the zod schemas that carry an id (`.meta({ id })`): the protocol in
 * src/protocol/chatkit.schemas.ts and the REST bodies in src/openapi/rest.schemas.ts. A schema
 * reads differently as input and as output (a field with a default may be left out by a client
 * but is always sent by the server), so request bodies get the input reading and responses the
 * output reading; a schema used both ways whose readings differ keeps its name for the output and
 * becomes `<Name>Input` for requests. Only schemas the document reaches are emitted.
 */
import { z } from 'zod';

type Json = Record<string, unknown>;
export type SchemaMap = Record<string, Json>;

const PREFIX = '#/components/schemas/';

/** Discriminated unions say so (OpenAPI `discriminator`), with a mapping when every member is named. */
function addDiscriminator(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: Json }): void {
  const def = ctx.zodSchema._zod.def as { type: string; discriminator?: string; options?: z.core.$ZodType[] };
  if (def.type !== 'union' || !def.discriminator || !def.options) return;
  const propertyName = def.discriminator;
  const mapping: Record<string, string> = {};
  for (const option of def.options) {
    const id = z.globalRegistry.get(option)?.id;
    const values = option._zod.propValues?.[propertyName];
    if (!id || !values) return;
    for (const value of values) mapping[String(value)] = `${PREFIX}${id}`;
  }
  ctx.jsonSchema.discriminator = { propertyName, mapping };
}

/** Every registered schema, in one reading, as component schemas referring to each other. */
function registeredSchemas(io: 'input' | 'output'): SchemaMap {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    uri: (id) => `${PREFIX}${id}`,
    override: addDiscriminator,
  });
  const out: SchemaMap = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, id: _id, ...rest } = schema as Json;
    out[id] = rest;
  }
  return out;
}

/** The ids of every registered schema. */
export function registeredIds(): Set<string> {
  return new Set(Object.keys(registeredSchemas('output')));
}

/** The component names a JSON value refers to. */
export function refsIn(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => refsIn(n, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(PREFIX)) {
        found.add(value.slice(PREFIX.length));
      } else refsIn(value, found);
    }
  }
  return found;
}

/** Rewrites references (`$ref`s and discriminator mappings) through `rename`, in place. */
export function renameRefs(node: unknown, rename: (name: string) => string): void {
  if (Array.isArray(node)) node.forEach((n) => renameRefs(n, rename));
  else if (node && typeof node === 'object') {
    const o = node as Json;
    for (const [key, value] of Object.entries(o)) {
      if (typeof value === 'string' && value.startsWith(PREFIX)) {
        o[key] = PREFIX + rename(value.slice(PREFIX.length));
      } else renameRefs(value, rename);
    }
  }
}

function closure(roots: Iterable<string>, defs: SchemaMap): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots].filter((id) => id in defs);
  while (queue.length) {
    const id = queue.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const ref of refsIn(defs[id])) if (ref in defs && !seen.has(ref)) queue.push(ref);
  }
  return seen;
}

/** Server-private fields that the wire serializer strips: declared in zod, never sent. */
const NEVER_SENT: Record<string, string[]> = {
  FileAttachment: ['metadata'],
  ImageAttachment: ['metadata'],
};

export interface Components {
  schemas: SchemaMap;
  /** The name request bodies must use for a registered schema (`X` or `XInput`). */
  inputName(id: string): string;
}

/**
 * Components for a document whose request side refers to `inputRoots` and whose response side
 * to `outputRoots` (component names, as zod ids).
 */
export function buildComponents(inputRoots: Iterable<string>, outputRoots: Iterable<string>): Components {
  const input = registeredSchemas('input');
  const output = registeredSchemas('output');
  for (const [id, fields] of Object.entries(NEVER_SENT)) {
    const schema = output[id] as { properties?: Json; required?: string[] } | undefined;
    for (const field of fields) {
      delete schema?.properties?.[field];
      if (schema?.required) schema.required = schema.required.filter((f) => f !== field);
    }
  }
  const inputIds = closure(inputRoots, input);
  const outputIds = closure(outputRoots, output);
  const both = [...inputIds].filter((id) => outputIds.has(id));
  const renamed = new Set(both.filter((id) => JSON.stringify(input[id]) !== JSON.stringify(output[id])));
  // A schema referring to a renamed one reads differently too once its reference is renamed.
  for (let grew = true; grew;) {
    grew = false;
    for (const id of both) {
      if (!renamed.has(id) && [...refsIn(input[id])].some((ref) => renamed.has(ref))) {
        renamed.add(id);
        grew = true;
      }
    }
  }
  const inputName = (id: string) => (renamed.has(id) ? `${id}Input` : id);
  const schemas: SchemaMap = {};
  for (const id of outputIds) schemas[id] = output[id];
  for (const id of inputIds) {
    const schema = structuredClone(input[id]);
    renameRefs(schema, inputName);
    schemas[inputName(id)] = schema;
  }
  return { schemas, inputName };
}
