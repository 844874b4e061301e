/**
 * An HTTP tool described by an operation of an OpenAPI 3 document: method, URL, parameters and
 * description are read from the operation at boot, so the tools file only names it.
 *
 * What is supported is what a tool call can fill in: path and query parameters and a JSON
 * request body whose schema is an object (its properties become the tool's other parameters).
 * Local `$ref`s (`#/components/...`) are inlined. Anything else the operation requires (a
 * required header or cookie parameter, a body that is not JSON) is a boot error naming it.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface OpenApiTool {
  description: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  parameters: { type: 'object'; properties: Record<string, Record<string, unknown>>; required?: string[] };
  /** Query parameters, sent in the query string whatever the method. */
  query: string[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const MAX_REF_DEPTH = 32;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A copy of `value` with local `$ref`s replaced by what they point at (cycles end in `{}`). */
function inline(value: unknown, document: Json, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => inline(v, document, depth));
  if (!isObject(value)) return value;
  if (typeof value.$ref === 'string') {
    if (depth >= MAX_REF_DEPTH || !value.$ref.startsWith('#/')) return {};
    let target: unknown = document;
    for (const segment of value.$ref.slice(2).split('/'))
      target = isObject(target) ? target[segment.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (target === undefined) throw new Error(`${value.$ref} is not in the document`);
    return inline(target, document, depth + 1);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inline(v, document, depth)]));
}

/**
 * Reads `specPath` (relative to the tools file) and turns operation `operationId` into an HTTP
 * tool. Throws an Error whose message says what is wrong; the caller names the entry.
 */
export function openApiTool(
  toolsFilePath: string,
  spec: { spec: string; operation_id: string; base_url?: string },
): OpenApiTool {
  const path = resolve(dirname(toolsFilePath), spec.spec);
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : '');
    throw new Error(`the OpenAPI document ${spec.spec} cannot be read: ${reason}`);
  }
  if (!isObject(document) || !isObject(document.paths))
    throw new Error(`${spec.spec} is not an OpenAPI document (no paths)`);

  for (const [template, item] of Object.entries(document.paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation) || operation.operationId !== spec.operation_id) continue;
      return fromOperation(document, template, method, item, operation, spec);
    }
  }
  throw new Error(`${spec.spec} has no operation "${spec.operation_id}"`);
}

function fromOperation(
  document: Json,
  template: string,
  method: (typeof METHODS)[number],
  item: Json,
  operation: Json,
  spec: { spec: string; operation_id: string; base_url?: string },
): OpenApiTool {
  const servers = Array.isArray(document.servers) ? document.servers : [];
  const server = isObject(servers[0]) && typeof servers[0].url === 'string' ? servers[0].url : undefined;
  const base = spec.base_url ?? server;
  if (!base || !/^https?:\/\//.test(base))
    throw new Error(`${spec.spec} names no absolute http(s) server URL: set openapi.base_url`);

  const properties: Record<string, Record<string, unknown>> = {};
  const required: string[] = [];
  const query: string[] = [];
  // Parameters of the path item apply to each of its operations, unless the operation redefines them.
  const declared = [
    ...(Array.isArray(item.parameters) ? item.parameters : []),
    ...(Array.isArray(operation.parameters) ? operation.parameters : []),
  ].map((p) => inline(p, document));
  for (const parameter of declared) {
    if (!isObject(parameter) || typeof parameter.name !== 'string') continue;
    const where = parameter.in;
    if (where !== 'path' && where !== 'query') {
      if (parameter.required === true)
        throw new Error(
          `parameter "${parameter.name}" in ${String(where)} is required, which a tool cannot send`,
        );
      continue;
    }
    properties[parameter.name] = {
      ...(isObject(parameter.schema) ? parameter.schema : { type: 'string' }),
      ...(typeof parameter.description === 'string' ? { description: parameter.description } : {}),
    };
    if (where === 'query' && !query.includes(parameter.name)) query.push(parameter.name);
    if ((where === 'path' || parameter.required === true) && !required.includes(parameter.name))
      required.push(parameter.name);
  }

  const body = inline(operation.requestBody, document);
  if (isObject(body)) {
    const content = isObject(body.content) ? body.content : {};
    const json = Object.entries(content).find(([type]) => /\bjson\b/i.test(type))?.[1];
    const schema = isObject(json) && isObject(json.schema) ? json.schema : undefined;
    if (!schema || !isObject(schema.properties)) {
      if (body.required === true)
        throw new Error('the request body is not a JSON object, which a tool cannot send');
    } else {
      for (const [name, property] of Object.entries(schema.properties)) {
        if (name in properties) throw new Error(`body property "${name}" has the name of a parameter`);
        properties[name] = isObject(property) ? property : {};
      }
      if (Array.isArray(schema.required))
        required.push(...schema.required.filter((n): n is string => typeof n === 'string'));
    }
  }

  const text = [operation.summary, operation.description].filter(
    (part): part is string => typeof part === 'string' && part.trim() !== '',
  );
  return {
    description: text.join('\n\n') || `${method.toUpperCase()} ${template}`,
    method: method.toUpperCase() as OpenApiTool['method'],
    url: `${base.replace(/\/+$/, '')}${template}`,
    parameters: { type: 'object', properties, ...(required.length ? { required } : {}) },
    query,
  };
}
