// Validates Kubernetes objects against the API schemas shipped in kubernetes-models. Runs as its
// own Node process because kubernetes-models is published as ES modules only, which the jest
// runtime of the test suite cannot load. Reads a JSON array of objects on stdin and prints a JSON
// array with, for each object, null (valid) or the validation message.
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const object of objects) {
  try {
    // "apps/v1" → kubernetes-models/apps/v1, the core group's "v1" → kubernetes-models/v1.
    const models = await import(`kubernetes-models/${object.apiVersion}`);
    const Model = models[object.kind];
    if (typeof Model !== 'function') throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
    new Model(object).validate();
    results.push(null);
  } catch (error) {
    results.push(error instanceof Error ? error.message : String(error));
  }
}
process.stdout.write(JSON.stringify(results));
