/**
 * The OpenAPI 3.1 document of the gateway, served at /docs-json and committed as
 * docs/openapi.json. Paths come from the controllers (Nest's scanner and their decorators),
 * schemas from the zod definitions that also validate and type the traffic, so the document
 * cannot describe a shape the code does not use. This module only describes: it must never change
 * what a route accepts or answers.
 *
 * The output is deterministic (paths, schemas and responses in sorted order, no timestamps), so a
 * drift test can compare it byte for byte with the committed copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { ERROR_RESPONSE_SCHEMA, schemaRef } from 'src/common/api-docs';
import { BEARER_SCHEME, WITHOUT_DATABASE } from 'src/common/decorators';
import { authConfig, type AuthConfig } from 'src/config/auth.config';
import { describeChatKitOperation } from 'src/openapi/chatkit.operation';
import { buildComponents, refsIn, registeredIds, renameRefs } from 'src/openapi/openapi.components';
import { ErrorResponseSchema } from 'src/openapi/rest.schemas';

/** The identity headers development mode accepts instead of a token (AUTH_DEV_MODE=true). */
export const DEV_AUTH_HEADERS = {
  'X-User-ID': 'Development mode only: the user to act as (letters, digits, `._:@-`).',
  'X-Org-ID': 'Development mode only, optional: the organisation of the user.',
  'X-User-Role': 'Development mode only, optional: `admin` grants the admin role.',
} as const;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  parameters?: unknown[];
  requestBody?: unknown;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description?: string; content?: Json } | undefined>;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function operations(doc: OpenAPIObject): Array<[string, string, Operation]> {
  const found: Array<[string, string, Operation]> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (op) found.push([path, method, op]);
    }
  }
  return found;
}

/**
 * Route metadata by operation id (`<Controller>_<method>`, Nest's default), for what the
 * decorators say to the guards but not to Swagger (whether a route needs the database).
 */
function handlerMetadata(app: INestApplication, key: string): Set<string> {
  const marked = new Set<string>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!type) continue;
      const onClass = Reflect.getMetadata(key, type) as unknown;
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        if (name === 'constructor') continue;
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        const onHandler = Reflect.getMetadata(key, handler) as unknown;
        if ((onHandler ?? onClass) === true) marked.add(`${type.name}_${name}`);
      }
    }
  }
  return marked;
}

/** Which credentials an authenticated route takes in this configuration. */
function securityRequirements(devMode: boolean): Array<Record<string, string[]>> {
  const bearer = { [BEARER_SCHEME]: [] };
  if (!devMode) return [bearer];
  // X-User-ID alone or with either or both of the optional companions, or a token.
  return [
    { 'X-User-ID': [] },
    { 'X-User-ID': [], 'X-Org-ID': [] },
    { 'X-User-ID': [], 'X-User-Role': [] },
    { 'X-User-ID': [], 'X-Org-ID': [], 'X-User-Role': [] },
    bearer,
  ];
}

/** Error answers any route can give, added where its decorators did not already say more. */
function addCommonErrors(op: Operation, needsDatabase: boolean): void {
  const add = (status: string, description: string) => {
    op.responses[status] ??= { description };
  };
  if (op.parameters?.length || op.requestBody) {
    add(
      '400',
      'The request does not match this description; the message names the field (`validation_failed`)',
    );
  }
  if (op.requestBody) add('413', 'The body is larger than BODY_LIMIT (`payload_too_large`)');
  if (op.security?.length) {
    add('429', 'Too many requests from this user (`rate_limited`); Retry-After says when to come back');
  }
  add('500', 'Unexpected failure (`internal_error`); the requestId finds it in the log');
  if (needsDatabase) {
    add('503', 'The database is unreachable (`database_unavailable`); Retry-After says when to try again');
  }
  for (const [status, response] of Object.entries(op.responses)) {
    if (Number(status) >= 400 && response && !response.content) {
      response.content = { 'application/json': { schema: schemaRef(ERROR_RESPONSE_SCHEMA) } };
    }
  }
}

function schemeRank(name: string): number {
  const dev = Object.keys(DEV_AUTH_HEADERS).indexOf(name);
  return dev >= 0 ? dev : Object.keys(DEV_AUTH_HEADERS).length;
}

function sortKeys<T extends Json>(o: T, compare?: (a: string, b: string) => number): T {
  return Object.fromEntries(
    Object.entries(o).sort(([a], [b]) => (compare ? compare(a, b) : a < b ? -1 : a > b ? 1 : 0)),
  ) as T;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const { devMode } = app.get<AuthConfig>(authConfig.KEY);
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('ChatKit Gateway')
    .setDescription(
      'Self-hosted backend for OpenAI ChatKit: the ChatKit protocol at POST /chatkit (JSON and Server-Sent Events), ' +
        'REST routes for custom front ends, attachments, health and metrics. Every error outside an open stream is an ' +
        '`ErrorResponse`.' +
        (devMode
          ? '\n\nThis server runs in development mode: authorize with an `X-User-ID` header (and optionally `X-Org-ID`, `X-User-Role`) instead of a token.'
          : ''),
    )
    .setVersion(packageVersion())
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'This server')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'A JWT from the configured issuer',
      },
      BEARER_SCHEME,
    );
  if (devMode) {
    for (const [name, description] of Object.entries(DEV_AUTH_HEADERS)) {
      builder.addApiKey({ type: 'apiKey', in: 'header', name, description }, name);
    }
  }
  const doc = cleanupOpenApiDoc(SwaggerModule.createDocument(app, builder.build()), { version: '3.1' });
  doc.openapi = '3.1.0';

  const withoutDatabase = handlerMetadata(app, WITHOUT_DATABASE);
  const requirements = securityRequirements(devMode);
  for (const [path, method, op] of operations(doc)) {
    if (path === '/chatkit' && method === 'post') describeChatKitOperation(op);
    // A route without a requirement is public (signed links, probes): say so explicitly.
    op.security = op.security?.some((r) => BEARER_SCHEME in r) ? requirements : [];
    addCommonErrors(op, !withoutDatabase.has(op.operationId ?? ''));
    op.responses = sortKeys(op.responses);
  }

  // Registered schemas replace what the DTO scanner produced for them; DTO-only schemas stay,
  // on the request side where DTOs live.
  const registered = registeredIds();
  const dtoSchemas = Object.fromEntries(
    Object.entries(doc.components?.schemas ?? {}).filter(([name]) => !registered.has(name)),
  ) as Record<string, Json>;
  const inputRoots = new Set<string>([...refsIn(dtoSchemas)]);
  const outputRoots = new Set<string>([schemaRef(ErrorResponseSchema).$ref.split('/').pop() as string]);
  for (const [, , op] of operations(doc)) {
    refsIn([op.parameters, op.requestBody], inputRoots);
    refsIn(op.responses, outputRoots);
  }
  const components = buildComponents(inputRoots, outputRoots);
  for (const [, , op] of operations(doc)) renameRefs([op.parameters, op.requestBody], components.inputName);
  renameRefs(dtoSchemas, components.inputName);
  const schemas: Record<string, Json> = { ...dtoSchemas, ...components.schemas };
  // Only what the paths reach: a DTO whose operation describes its body otherwise is left out.
  const reached = new Set<string>();
  for (let next = refsIn(doc.paths); next.size;) {
    next.forEach((name) => reached.add(name));
    next = new Set([...refsIn([...next].map((name) => schemas[name]))].filter((name) => !reached.has(name)));
  }
  doc.components = {
    ...doc.components,
    schemas: sortKeys(Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)))),
    // The development headers first: they are what Swagger UI's Authorize dialog is for there.
    securitySchemes: sortKeys(doc.components?.securitySchemes ?? {}, (a, b) => schemeRank(a) - schemeRank(b)),
  };
  doc.paths = sortKeys(doc.paths);

  const missing = [...refsIn(doc)].filter((name) => !(name in (doc.components?.schemas ?? {})));
  if (missing.length)
    throw new Error(`the OpenAPI document refers to undefined schemas: ${missing.join(', ')}`);
  return doc;
}

/** The document as committed: two-space JSON with a final newline. */
export function serializeOpenApiDocument(doc: OpenAPIObject): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
