/**
 * The layering of src/, checked by `npm run lint`. Folders form layers; a folder may import its own
 * layer's peers only where a rule below allows it, and lower layers only otherwise. From the bottom:
 *
 *   config → database → common → metrics → telemetry → protocol → auth → rate-limit → health
 *          → usage → threads → attachments, rag → chatkit → widgets → tools, actions → agent
 *          → openapi, playground → (app.module, main)
 *
 * openapi (the document builder) sits on top: it may read everything it describes, and nothing
 * imports it but the app root. playground (the page) serves files and imports no feature.
 *
 * Violations that predate a rule are listed in .dependency-cruiser-known-violations.json and only
 * ever removed from it: a new one fails the lint.
 */
const LAYERS = [
  ['config'],
  ['database'],
  ['common'],
  ['metrics'],
  ['telemetry'],
  ['protocol'],
  ['auth'],
  ['rate-limit'],
  ['health'],
  ['usage'],
  ['threads'],
  ['attachments', 'rag'],
  ['chatkit'],
  ['widgets'],
  ['tools', 'actions'],
  ['agent'],
  ['openapi', 'playground'],
];

const folder = (names) => `^src/(${names.join('|')})/`;

/** For each layer: nothing of it may import a folder of a higher layer. */
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `${layer.join('-')}-imports-no-higher-layer`,
  comment: `${layer.join(', ')} may import only libraries and ${LAYERS.slice(0, i).flat().join(', ') || 'nothing of src'}`,
  severity: 'error',
  from: { path: folder(layer), pathNot: '\\.spec\\.ts$' },
  to: { path: folder(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'protocol-imports-only-common',
      comment: 'the protocol (schemas and wire helpers) depends on libraries and common only',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/(protocol|common)/' },
    },
    {
      name: 'attachments-and-rag-are-independent',
      comment: 'two features of one layer: neither may import the other',
      severity: 'error',
      from: { path: '^src/(attachments|rag)/' },
      to: { path: '^src/(attachments|rag)/', pathNot: '^src/$1/' },
    },
    {
      name: 'tools-and-actions-are-independent',
      comment: 'two features of one layer: neither may import the other',
      severity: 'error',
      from: { path: '^src/(tools|actions)/' },
      to: { path: '^src/(tools|actions)/', pathNot: '^src/$1/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles between files (so none between folders of one layer either)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'nothing-imports-the-app-root',
      comment: 'only the entry points build the app: main.ts, and the OpenAPI document writer',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main|openapi/openapi\\.cli)\\.ts$' },
      to: { path: '^src/(app\\.module|app\\.setup|main)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
