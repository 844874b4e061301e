/**
 * The deployment files are checked against the app they deploy: the Kubernetes overlays render
 * (kubectl kustomize and our own renderer agree), every object passes the Kubernetes API schemas,
 * probes, port and environment variables exist in the real app, the alert rules and the dashboard
 * query metrics the real app exports, the workflows are valid GitHub Actions and call npm scripts
 * that exist, and the pre-commit hook installs and refuses a badly formatted file.
 */
import { validateWorkflow } from '@action-validator/core';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { agentEnvShape } from 'src/config/agent.config';
import { appEnvShape } from 'src/config/app.config';
import { attachmentsEnvShape } from 'src/config/attachments.config';
import { authEnvShape } from 'src/config/auth.config';
import { chatkitEnvShape } from 'src/config/chatkit.config';
import { CONFIG_NAMESPACES } from 'src/config/config.registry';
import { databaseEnvShape } from 'src/config/database.config';
import { metricsEnvShape } from 'src/config/metrics.config';
import { ragEnvShape } from 'src/config/rag.config';
import { rateLimitEnvShape } from 'src/config/rate-limit.config';
import { namespaceUnderTest } from 'test/support/config-namespace';
import { renderKustomization, type KubeObject } from 'test/support/kustomize-render';
import { unknownKubernetesFields } from 'test/support/kubernetes-types';
import { startApp, type TestApp } from 'test/support/test-app';

const ROOT = join(__dirname, '..');
const K8S = join(ROOT, 'deploy', 'kubernetes');
const OVERLAYS = ['dev', 'production'] as const;

/** Every variable the config schemas read (the same list docs/configuration.md is checked against). */
const KNOWN_VARIABLES = new Set(
  [
    agentEnvShape,
    appEnvShape,
    attachmentsEnvShape,
    authEnvShape,
    chatkitEnvShape,
    databaseEnvShape,
    metricsEnvShape,
    ragEnvShape,
    rateLimitEnvShape,
  ].flatMap((shape) => Object.keys(shape)),
);

type Container = {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
};
type Probe = { httpGet?: { path: string; port: string | number } };
type PodSpec = {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
  volumes?: { name: string; emptyDir?: object }[];
};

function readYamlFile(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS() as KubeObject;
  });
}

function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.map((o) => `${o.kind}/${o.metadata.name}`)).toHaveLength(1);
  return found[0];
}

function podSpecOf(object: KubeObject): PodSpec {
  return (object.spec as { template: { spec: PodSpec } }).template.spec;
}

const byKindAndName = (a: KubeObject, b: KubeObject) =>
  `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

/** kubectl on PATH with its built-in kustomize; its absence fails the checks that need it. */
function kubectl(args: string[]): string {
  const result = spawnSync('kubectl', args, { encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      `kubectl is needed to check the Kubernetes files (kubectl ${args.join(' ')}): ${result.error.message}. ` +
        'Install kubectl 1.27 or newer (it includes kustomize).',
    );
  }
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** A GET on a connection of its own, as the kubelet probes (no kept-alive socket to go stale). */
function probeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: 3000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error(`${url} did not answer within the probe timeout`)));
    request.on('error', reject);
  });
}

/** Runs test/support/kubernetes-schemas.mjs: one validation message (or null) per object. */
function validateWithKubernetesSchemas(objects: KubeObject[]): (string | null)[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'support', 'kubernetes-schemas.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    cwd: ROOT,
  });
  return JSON.parse(out) as (string | null)[];
}

/** Metric names the app exports, from the `# TYPE` lines, with the series names each one yields. */
function exportedSeries(metricsText: string): Set<string> {
  const series = new Set<string>();
  for (const match of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    series.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) series.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) series.add(name + suffix);
  }
  return series;
}

/** Parses a PromQL expression: its metric names and `label="value"` equality matchers, or the error. */
function analysePromql(expr: string): { errors: string[]; metrics: string[]; matchers: [string, string][] } {
  const tree = promqlParser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  const matchers: [string, string][] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: …${expr.slice(node.from, node.from + 30)}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.push(expr.slice(node.from, node.to));
      }
      if (node.name === 'UnquotedLabelMatcher') {
        const text = expr.slice(node.from, node.to);
        const equality = /^(\w+)\s*=\s*"([^"]*)"$/.exec(text);
        if (equality) matchers.push([equality[1], equality[2]]);
      }
    },
  });
  return { errors, metrics, matchers };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('deployment files', () => {
  let app: TestApp;
  let metricsText: string;
  const rendered = new Map<string, KubeObject[]>();

  beforeAll(async () => {
    app = await startApp();
    // Traffic on the routes the alerts name, so their label values show up in the scrape.
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${app.url}/chatkit`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await app.fetch('/api/me', { user: 'deploy-check' })).status).toBe(200);
    const metrics = await fetch(`${app.url}/metrics`);
    expect(metrics.status).toBe(200);
    metricsText = await metrics.text();
    for (const overlay of OVERLAYS)
      rendered.set(overlay, renderKustomization(join(K8S, 'overlays', overlay)));
  });

  afterAll(async () => {
    await app?.close();
  });

  describe('Kubernetes', () => {
    it.each(OVERLAYS)(
      'renders overlays/%s the same with kubectl kustomize and with our renderer',
      (overlay) => {
        const ours = [...rendered.get(overlay)!].sort(byKindAndName);
        const theirs = parseAllDocuments(kubectl(['kustomize', join(K8S, 'overlays', overlay)]))
          .map((doc) => doc.toJS() as KubeObject)
          .sort(byKindAndName);
        expect(ours.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
          expect.arrayContaining([
            'ConfigMap/' + find(theirs, 'ConfigMap').metadata.name,
            'Deployment/chatkit-gateway',
            'Service/chatkit-gateway',
            'HorizontalPodAutoscaler/chatkit-gateway',
            'PodDisruptionBudget/chatkit-gateway',
            'NetworkPolicy/chatkit-gateway',
            'Job/chatkit-gateway-migrate',
          ]),
        );
        expect(ours).toEqual(theirs);
      },
    );

    it('validates every rendered object, the Secret template and the ServiceMonitor against the schemas', () => {
      const objects = [
        ...OVERLAYS.flatMap((overlay) => rendered.get(overlay)!),
        ...readYamlFile(join(K8S, 'secret.example.yaml')),
      ];
      const problems = validateWithKubernetesSchemas(objects)
        .map((message, i) => message && `${objects[i].kind}/${objects[i].metadata.name}: ${message}`)
        .filter(Boolean);
      expect(problems).toEqual([]);
      // The schemas do catch bad values: a broken copy is refused.
      const broken = structuredClone(find(rendered.get('production')!, 'Deployment'));
      (broken.spec as { replicas: unknown }).replicas = 'two';
      expect(validateWithKubernetesSchemas([broken])[0]).toMatch(/replicas/);

      // Unknown fields, which the schemas let through, are found by the typed check.
      expect(unknownKubernetesFields(objects)).toEqual([]);
      const misspelt = structuredClone(find(rendered.get('production')!, 'Deployment'));
      Object.assign(podSpecOf(misspelt).containers[0], { imagePullPolicyy: 'Always' });
      expect(unknownKubernetesFields([misspelt])).toEqual([expect.stringMatching(/imagePullPolicyy/)]);

      // kubernetes-models has no Prometheus Operator schemas: the ServiceMonitor is checked by hand
      // against the Service it scrapes.
      const [monitor] = readYamlFile(join(K8S, 'components', 'servicemonitor', 'servicemonitor.yaml'));
      const service = find(rendered.get('production')!, 'Service');
      const spec = monitor.spec as {
        selector: { matchLabels: object };
        endpoints: { port: string; path: string }[];
      };
      expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(service.metadata.labels).toMatchObject(spec.selector.matchLabels);
      const portNames = (service.spec as { ports: { name: string }[] }).ports.map((p) => p.name);
      for (const endpoint of spec.endpoints) {
        expect(portNames).toContain(endpoint.port);
        expect(endpoint.path).toBe('/metrics');
      }
    });

    it.each(OVERLAYS)('overlays/%s: probes, port and Service reach the real app', async (overlay) => {
      const objects = rendered.get(overlay)!;
      const config = find(objects, 'ConfigMap').data as Record<string, string>;
      const [container] = podSpecOf(find(objects, 'Deployment', 'chatkit-gateway')).containers;
      const port = container.ports!.find((p) => p.name === 'http')!;
      expect(port.containerPort).toBe(Number(config.PORT ?? 3000));
      const service = find(objects, 'Service');
      expect((service.spec as { ports: { targetPort: string }[] }).ports[0].targetPort).toBe('http');
      expect((service.spec as { selector: object }).selector).toEqual(
        (find(objects, 'Deployment').spec as { selector: { matchLabels: object } }).selector.matchLabels,
      );

      const probes = [container.startupProbe, container.livenessProbe, container.readinessProbe];
      expect(probes.map((p) => p?.httpGet?.path)).toEqual(['/health/live', '/health/live', '/health/ready']);
      for (const probe of probes) {
        expect(probe!.httpGet!.port).toBe('http');
        const status = await probeStatus(`${app.url}${probe!.httpGet!.path}`);
        expect(`${probe!.httpGet!.path} ${status}`).toBe(`${probe!.httpGet!.path} 200`);
      }
    });

    it.each(OVERLAYS)(
      'overlays/%s: every environment variable is one the app reads, with a valid value',
      (overlay) => {
        const objects = rendered.get(overlay)!;
        const config = find(objects, 'ConfigMap').data as Record<string, string>;
        const [secretTemplate] = readYamlFile(join(K8S, 'secret.example.yaml'));
        const secret = secretTemplate.stringData as Record<string, string>;
        const names = [
          ...Object.keys(config),
          ...Object.keys(secret),
          ...objects.flatMap((o) =>
            o.kind === 'Deployment' || o.kind === 'Job'
              ? podSpecOf(o).containers.flatMap((c) => (c.env ?? []).map((e) => e.name))
              : [],
          ),
        ];
        expect(names.filter((name) => !KNOWN_VARIABLES.has(name))).toEqual([]);

        // The ConfigMap plus the Secret template is an environment every config namespace accepts.
        const environment = { ...config, ...secret };
        const problems = CONFIG_NAMESPACES.flatMap((factory) =>
          namespaceUnderTest<unknown>(factory).problems(environment),
        );
        expect(problems).toEqual([]);

        // Pods and the Job read the same ConfigMap and Secret.
        for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
          expect(podSpecOf(o).containers[0].envFrom).toEqual([
            { configMapRef: { name: find(objects, 'ConfigMap').metadata.name } },
            { secretRef: { name: secretTemplate.metadata.name } },
          ]);
        }
      },
    );

    it.each(OVERLAYS)('overlays/%s: shutdown, security, storage and migrations line up', (overlay) => {
      const objects = rendered.get(overlay)!;
      const config = find(objects, 'ConfigMap').data as Record<string, string>;
      const pod = podSpecOf(find(objects, 'Deployment'));
      const [container] = pod.containers;

      // The kubelet must not kill the process before it has let streams finish and stored cut answers.
      const preStop = container.lifecycle!.preStop!.exec!.command;
      expect(preStop.slice(0, 1)).toEqual(['sleep']);
      const graceMs = Number(config.SHUTDOWN_GRACE_MS ?? 10_000);
      const cleanupMs = 2_000;
      expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(
        Number(preStop[1]) * 1000 + graceMs + cleanupMs,
      );

      expect(pod.securityContext!.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      // Where the app may write, given the image's working directory /app: ./.data (embedded
      // database, filesystem attachments) and the system temp directory.
      const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
      const writable = (container.volumeMounts ?? [])
        .filter((m) => emptyDirs.has(m.name))
        .map((m) => m.mountPath);
      expect(writable.sort()).toEqual(['/app/.data', '/tmp']);
      if (config.ATTACHMENTS_DIR) expect(config.ATTACHMENTS_DIR).toMatch(/^(\.\/)?\.data\/|^\/app\/\.data\//);

      // Pods never migrate; the Job does, with the compiled data source of the image.
      expect(config.DATABASE_RUN_MIGRATIONS).toBe('false');
      const job = podSpecOf(find(objects, 'Job', 'chatkit-gateway-migrate')).containers[0];
      expect(job.image).toBe(container.image);
      expect(job.command).toEqual([
        'node',
        'node_modules/typeorm/cli.js',
        'migration:run',
        '-d',
        'dist/src/database/data-source.js',
      ]);
      expect(readdirSync(join(ROOT, 'src', 'database'))).toContain('data-source.ts');
      expect(readdirSync(join(ROOT, 'node_modules', 'typeorm'))).toContain('cli.js');
    });

    it('keeps development settings out of production and sizes each overlay', () => {
      const production = rendered.get('production')!;
      const config = find(production, 'ConfigMap').data as Record<string, string>;
      expect(config.NODE_ENV).toBe('production');
      expect(config).not.toHaveProperty('AUTH_DEV_MODE');
      expect(find(production, 'Deployment').spec).toMatchObject({ replicas: 2 });
      expect(find(production, 'HorizontalPodAutoscaler').spec).toMatchObject({
        minReplicas: 3,
        maxReplicas: 12,
      });
      expect(podSpecOf(find(production, 'Deployment')).containers[0].image).toMatch(
        /^ghcr\.io\/.+:\d+\.\d+\.\d+$/,
      );

      const dev = rendered.get('dev')!;
      expect(find(dev, 'Deployment').spec).toMatchObject({ replicas: 1 });
      expect(find(dev, 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 1 });
      expect((find(dev, 'ConfigMap').data as Record<string, string>).NODE_ENV).not.toBe('production');
      expect(new Set(dev.map((o) => o.metadata.namespace)).size).toBe(1);
      expect(dev[0].metadata.namespace).not.toBe(production[0].metadata.namespace);
    });

    it('the ServiceMonitor component adds to the production overlay with kubectl kustomize', () => {
      // The production overlay with the component added, as docs/operations.md says to; kustomize
      // takes relative paths only, so this copy sits beside the overlays while it is built.
      const overlay = parseYaml(
        readFileSync(join(K8S, 'overlays', 'production', 'kustomization.yaml'), 'utf8'),
      );
      const dir = mkdtempSync(join(K8S, '.component-check-'));
      try {
        const withComponent = {
          ...overlay,
          resources: ['../base'],
          components: ['../components/servicemonitor'],
        };
        writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(withComponent));
        const objects = parseAllDocuments(kubectl(['kustomize', dir])).map((d) => d.toJS() as KubeObject);
        expect(find(objects, 'ServiceMonitor').metadata.namespace).toBe('chatkit');
        expect(objects.filter((o) => o.kind !== 'ServiceMonitor').sort(byKindAndName)).toEqual(
          [...rendered.get('production')!].sort(byKindAndName),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('deploy.sh renders an overlay with the image it is given', () => {
      const image = 'ghcr.io/acme/chatkit-gateway@sha256:' + 'ab'.repeat(32);
      const out = execFileSync(join(K8S, 'deploy.sh'), ['production', image], {
        env: { ...process.env, RENDER_ONLY: '1' },
        encoding: 'utf8',
      });
      const objects = parseAllDocuments(out).map((d) => d.toJS() as KubeObject);
      expect(podSpecOf(find(objects, 'Deployment')).containers[0].image).toBe(image);
      expect(podSpecOf(find(objects, 'Job')).containers[0].image).toBe(image);
      expect(readdirSync(K8S).filter((name) => name.startsWith('.render'))).toEqual([]);
    });
  });

  describe('alerts and dashboard', () => {
    it('the scrape of the real app lists the metrics the files rely on', () => {
      const series = exportedSeries(metricsText);
      expect(series).toContain('chatkit_http_request_duration_seconds_bucket');
      expect(series).toContain('chatkit_agent_model_errors_total');
      expect(metricsText).toMatch(/route="\/health\/ready"/);
    });

    it('every alert parses as PromQL, uses exported metrics and links to its troubleshooting section', () => {
      const series = exportedSeries(metricsText);
      const anchors = headingAnchors(readFileSync(join(ROOT, 'docs', 'troubleshooting.md'), 'utf8'));
      const file = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
        groups: { name: string; rules: Record<string, any>[] }[];
      };
      const rules = file.groups.flatMap((g) => g.rules);
      expect(rules.map((r) => r.alert)).toEqual(
        expect.arrayContaining([
          'ChatKitHigh5xxRate',
          'ChatKitHighLatencyP99',
          'ChatKitModelFailures',
          'ChatKitDatabaseUnavailable',
          'ChatKitRateLimitStorageDown',
          'ChatKitStuckStreams',
          'ChatKitAttachmentStorageFailures',
        ]),
      );
      expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
      for (const rule of rules) {
        const { errors, metrics, matchers } = analysePromql(rule.expr as string);
        expect({ alert: rule.alert, errors }).toEqual({ alert: rule.alert, errors: [] });
        expect(metrics.length).toBeGreaterThan(0);
        expect({ alert: rule.alert, unknown: metrics.filter((m) => !series.has(m)) }).toEqual({
          alert: rule.alert,
          unknown: [],
        });
        // Route values must be real route templates, as the app labels them.
        for (const [label, value] of matchers.filter(([label]) => label === 'route')) {
          expect(`${label}=${value} ${metricsText.includes(`route="${value}"`)}`).toBe(
            `${label}=${value} true`,
          );
        }
        expect(rule.for).toMatch(/^\d+[smh]$/);
        expect(['critical', 'warning']).toContain(rule.labels?.severity);
        expect(rule.annotations?.summary).toBeTruthy();
        const runbook = /\/docs\/troubleshooting\.md#([a-z0-9_-]+)$/.exec(
          rule.annotations?.runbook_url ?? '',
        );
        expect({ alert: rule.alert, runbook: runbook?.[1] }).toEqual({
          alert: rule.alert,
          runbook: expect.any(String),
        });
        expect({ alert: rule.alert, anchorExists: anchors.has(runbook![1]) }).toEqual({
          alert: rule.alert,
          anchorExists: true,
        });
      }
    });

    it('every dashboard query parses and uses exported metrics', () => {
      const series = exportedSeries(metricsText);
      const dashboard = JSON.parse(
        readFileSync(join(ROOT, 'deploy', 'grafana', 'chatkit-gateway.json'), 'utf8'),
      ) as {
        uid: string;
        panels: { id: number; title: string; targets: { expr: string }[] }[];
      };
      expect(dashboard.uid).toBe('chatkit-gateway');
      expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
      expect(exprs.length).toBeGreaterThan(10);
      for (const { panel, expr } of exprs) {
        // Grafana fills $__rate_interval in before the query reaches Prometheus.
        const { errors, metrics } = analysePromql(expr.replaceAll('$__rate_interval', '5m'));
        expect({ panel, errors, unknown: metrics.filter((m) => !series.has(m)) }).toEqual({
          panel,
          errors: [],
          unknown: [],
        });
        expect(metrics.length).toBeGreaterThan(0);
      }
      // The parser does find mistakes.
      expect(analysePromql('sum(rate(chatkit_http_requests_in_flight[5m])').errors).not.toEqual([]);
    });
  });

  describe('GitHub workflows', () => {
    const workflowDir = join(ROOT, '.github', 'workflows');
    const workflows = readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f));
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;

    it('has the CI and release workflows', () => {
      expect(workflows.sort()).toEqual(['ci.yml', 'release.yml']);
    });

    it.each(workflows)(
      '%s is a valid workflow, pins actions to a major version and calls existing scripts',
      (file) => {
        const source = readFileSync(join(workflowDir, file), 'utf8');
        expect(validateWorkflow(source).errors).toEqual([]);
        const workflow = parseYaml(source) as {
          jobs: Record<string, { steps: { uses?: string; run?: string }[] }>;
        };
        const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
        for (const uses of steps.map((s) => s.uses).filter(Boolean))
          expect(uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
        const called = steps
          .flatMap((s) => [...(s.run ?? '').matchAll(/\bnpm (?:run (\S+)|(test)\b)/g)])
          .map((m) => m[1] ?? m[2]);
        const missing = called.filter((name) => !(name in scripts));
        expect(missing).toEqual([]);
        for (const path of [...source.matchAll(/\b(deploy\/kubernetes\/[\w./-]+\.sh)\b/g)].map((m) => m[1])) {
          expect(readdirSync(join(ROOT, path, '..'))).toContain(path.split('/').pop());
        }
      },
    );

    it('the validator refuses a broken workflow', () => {
      expect(validateWorkflow('on: push\njobs:\n  x:\n    steps: 3\n').errors).not.toEqual([]);
    });

    it('CI runs lint, type-check, both test passes and the contract checks on Node 24 with PostgreSQL+pgvector and Redis', () => {
      const ci = parseYaml(readFileSync(join(workflowDir, 'ci.yml'), 'utf8')) as any;
      expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
      const job = ci.jobs.test;
      expect(job.services.postgres.image).toMatch(/^pgvector\/pgvector:pg1[56]$/);
      expect(job.services.redis.image).toMatch(/^redis:/);
      const steps = job.steps as { uses?: string; with?: { 'node-version'?: number }; run?: string }[];
      expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe(24);
      const runs = steps.map((s) => s.run ?? '').join('\n');
      for (const command of [
        'npm ci',
        'npm run lint',
        'npm run typecheck',
        'npm run lint:openapi',
        'npm run client:check',
        'npm run typecheck:examples',
        'npm run smoke -- --built',
      ]) {
        expect(runs).toContain(command);
      }
      // The README's command on the embedded database, then the e2e suites on the server (as .ci/run).
      expect(runs).toMatch(
        /env -u DATABASE_URL npm test[\s\S]*DATABASE_URL=postgres:\/\/\S+ npm run test:e2e/,
      );
      expect(runs).toContain('/usr/bin/chromium');
    });

    it('release builds on v* tags, publishes to GHCR and deploys production only after staging, behind its environment', () => {
      const release = parseYaml(readFileSync(join(workflowDir, 'release.yml'), 'utf8')) as any;
      expect(release.on.push.tags).toEqual(['v*']);
      const image = release.jobs.image;
      expect(image.permissions.packages).toBe('write');
      expect(image.steps.map((s: { uses?: string }) => s.uses)).toContain('docker/build-push-action@v6');
      expect(release.jobs['deploy-staging'].environment.name).toBe('staging');
      expect(release.jobs['deploy-production'].environment.name).toBe('production');
      expect(release.jobs['deploy-production'].needs).toContain('deploy-staging');
    });
  });

  describe('pre-commit hooks', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'chatkit-hooks-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const prepare = (cwd: string) =>
      spawnSync('sh', ['-c', pkg.scripts.prepare], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, HUSKY: '' },
      });

    it('prepare succeeds without husky installed (npm ci --omit=dev) and without .git (image builds)', () => {
      writeFileSync(join(dir, 'package.json'), '{}');
      expect(prepare(dir).status).toBe(0);
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      const withoutGit = prepare(dir);
      expect(withoutGit.status).toBe(0);
      expect(withoutGit.stdout).toContain(".git can't be found");
    });

    it('installs the hook in a clone, which refuses a badly formatted file and accepts a clean one', () => {
      const git = (...args: string[]) =>
        spawnSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, HUSKY: '' },
        });
      expect(git('init', '-q').status).toBe(0);
      for (const file of [
        'package.json',
        '.lintstagedrc.json',
        '.prettierrc',
        'eslint.config.mjs',
        'tsconfig.json',
      ]) {
        copyFileSync(join(ROOT, file), join(dir, file));
      }
      mkdirSync(join(dir, '.husky'));
      copyFileSync(join(ROOT, '.husky', 'pre-commit'), join(dir, '.husky', 'pre-commit'));
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
      expect(prepare(dir).status).toBe(0);
      expect(git('config', 'core.hooksPath').stdout.trim()).toBe('.husky/_');

      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'sample.ts'), 'export const answer   =  {a:1}\n');
      git('add', 'src/sample.ts');
      const refused = git('commit', '-q', '-m', 'sample');
      expect(refused.status).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/prettier --check/);

      writeFileSync(join(dir, 'src', 'sample.ts'), 'export const answer = { a: 1 };\n');
      git('add', 'src/sample.ts');
      const accepted = git('commit', '-q', '-m', 'sample');
      expect(accepted.stdout + accepted.stderr + String(accepted.status)).toMatch(/0$/);
    });
  });
});
