/**
 * The widget templates the agent's tools and the action webhooks fill: the built-in ones, then
 * every `*.json` in AGENT_WIDGETS_DIR (the name is the file name without `.json`; a file may
 * replace a built-in). Each is checked at boot — placeholders first, then the widget schema — and
 * a bad one stops the start with a ConfigValidationError naming the file and the bad node.
 *
 * Filling never throws: a tool's output that makes a tree ChatKit.js cannot render gives
 * `problem` instead, and the caller skips the widget. It must never log the data it fills in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigValidationError } from 'src/config/env.schema';
import { extensionsConfig, type ExtensionsConfig } from 'src/config/extensions.config';
import type { WidgetTreeRoot } from 'src/widgets/widget.schema';
import { KNOWLEDGE_SOURCES_TEMPLATE, KNOWLEDGE_SOURCES_WIDGET } from 'src/widgets/knowledge-sources.widget';
import { asWidget, placeholderProblems, renderTemplate, widgetProblems } from 'src/widgets/widget.template';

const BUILT_IN: Record<string, unknown> = { [KNOWLEDGE_SOURCES_WIDGET]: KNOWLEDGE_SOURCES_TEMPLATE };
const TEMPLATE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** What filling a template gave: a widget, nothing (its `$if` said so), or why not. */
export type RenderedWidget = { widget: WidgetTreeRoot } | { widget: null; problem?: string };

/**
 * Checks one template; the problems name `where` (a file, or "built-in template x").
 * Exported for the examples test, which checks the shipped templates the same way.
 */
export function templateProblems(where: string, template: unknown): string[] {
  const placeholders = placeholderProblems(template);
  if (placeholders.length) return placeholders.map((p) => `${where}: ${p}`);
  const schema = widgetProblems(template, { template: true });
  return schema ? [`${where}: not a widget ChatKit.js can render: ${schema}`] : [];
}

/** Reads and checks every template of a folder; throws one ConfigValidationError listing all problems. */
export function loadTemplateDir(dir: string): Map<string, unknown> {
  const templates = new Map<string, unknown>();
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch (error) {
    throw new ConfigValidationError([
      `AGENT_WIDGETS_DIR (${dir}): cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
  const problems: string[] = [];
  for (const file of files) {
    const where = `AGENT_WIDGETS_DIR ${join(dir, file)}`;
    const name = file.slice(0, -'.json'.length);
    if (!TEMPLATE_NAME.test(name)) {
      problems.push(`${where}: the name must be 1-64 letters, digits, _ or -`);
      continue;
    }
    let template: unknown;
    try {
      template = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (error) {
      problems.push(`${where}: is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const found = templateProblems(where, template);
    if (found.length) problems.push(...found);
    else templates.set(name, template);
  }
  if (problems.length) throw new ConfigValidationError(problems);
  return templates;
}

@Injectable()
export class WidgetTemplates {
  private readonly templates = new Map<string, unknown>();

  constructor(@Inject(extensionsConfig.KEY) config: ExtensionsConfig) {
    for (const [name, template] of Object.entries(BUILT_IN)) {
      // A built-in that fails its own schema is a bug here, not an operator's mistake.
      const problems = templateProblems(`built-in template ${name}`, template);
      if (problems.length) throw new Error(problems.join('; '));
      this.templates.set(name, template);
    }
    if (config.widgetsDir)
      for (const [name, template] of loadTemplateDir(config.widgetsDir)) this.templates.set(name, template);
  }

  has(name: string): boolean {
    return this.templates.has(name);
  }

  get names(): string[] {
    return [...this.templates.keys()];
  }

  /** Fills the template `name` with `data`; a tool's output as a JSON string is read as JSON. */
  render(name: string, data: unknown): RenderedWidget {
    const template = this.templates.get(name);
    if (template === undefined) return { widget: null, problem: `no widget template named "${name}"` };
    return renderChecked(template, readData(data));
  }
}

/** Fills any template (e.g. one a webhook sent) and checks the result. */
export function renderChecked(template: unknown, data: unknown): RenderedWidget {
  const placeholders = placeholderProblems(template);
  if (placeholders.length) return { widget: null, problem: placeholders.join('; ') };
  const tree = renderTemplate(template, data);
  if (tree === undefined) return { widget: null };
  const problem = widgetProblems(tree);
  return problem ? { widget: null, problem } : { widget: asWidget(tree) };
}

function readData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  const trimmed = data.trimStart();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}
