/**
 * Finds fields the Kubernetes API does not know (a misspelt `imagePullPolicy`, a probe option at
 * the wrong level). The JSON schemas of kubernetes-models accept unknown fields, as the API
 * server's lenient mode does; its TypeScript interfaces do not: each object is written as a typed
 * object literal and compiled, and TypeScript's excess property check names every unknown field.
 */
import { join } from 'node:path';
import ts from 'typescript';
import type { KubeObject } from 'test/support/kustomize-render';

export function unknownKubernetesFields(objects: KubeObject[]): string[] {
  const file = join(__dirname, '__kubernetes-objects.ts');
  const source = objects
    .map((object, i) => {
      const module = `kubernetes-models/${object.apiVersion}/${object.kind}`;
      return `export const o${i}: import('${module}').I${object.kind} = ${JSON.stringify(object)};`;
    })
    .join('\n');
  const host = ts.createCompilerHost({});
  const readSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : readSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram(
    [file],
    {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      // Node10 resolution reads the package's directories directly (its export map is ESM-only).
      moduleResolution: ts.ModuleResolutionKind.Node10,
    },
    host,
  );
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line = diagnostic.file?.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line;
    const object = line === undefined ? undefined : objects[line];
    const where = object ? `${object.kind}/${object.metadata.name}` : 'objects';
    return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}
