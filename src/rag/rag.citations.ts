/**
 * The contract between the `search_knowledge_base` tool and whoever turns an answer into ChatKit
 * annotations: the tool's output (JSON with numbered passages), how to read the sources back out
 * of it, and how `[1]`-style markers in the answer become annotations pointing at those sources.
 *
 * Pure functions only: no I/O, no Nest. They must never invent a source: a marker whose number no
 * tool output listed stays plain text.
 */
import type { Annotation, Source } from 'src/protocol/chatkit.schemas';

export interface KnowledgeToolSource {
  /** The number the answer cites as `[ref]`; stable within one agent turn. */
  ref: number;
  title: string;
  /** A URL, or a path / file name inside the knowledge base. */
  source: string;
  /** Heading path inside the document, e.g. "Billing > Refunds". */
  section?: string;
}

export interface KnowledgeToolPassage extends KnowledgeToolSource {
  text: string;
}

/** What the tool returns to the model, as JSON. */
export interface KnowledgeToolOutput {
  query: string;
  results: Array<KnowledgeToolPassage & { cite_as: string }>;
  note: string;
}

const NOTE_WITH_RESULTS =
  'Answer from these passages. Cite each passage you use right after the sentence it supports, ' +
  'with its marker exactly as given, e.g. [1] or [2]. Do not cite passages you did not use.';
const NOTE_EMPTY = 'The knowledge base has nothing that matches this query. Say so; do not guess.';

export function formatKnowledgeToolOutput(query: string, results: KnowledgeToolPassage[]): string {
  const output: KnowledgeToolOutput = {
    query,
    results: results.map((r) => ({
      ref: r.ref,
      cite_as: `[${r.ref}]`,
      title: r.title,
      source: r.source,
      ...(r.section ? { section: r.section } : {}),
      text: r.text,
    })),
    note: results.length > 0 ? NOTE_WITH_RESULTS : NOTE_EMPTY,
  };
  return JSON.stringify(output);
}

/**
 * The sources listed in one output of the tool (the string it returned, or that string already
 * parsed). Anything that is not such an output gives an empty list.
 */
export function knowledgeSourcesFromToolOutput(output: unknown): KnowledgeToolSource[] {
  let parsed: unknown = output;
  if (typeof output === 'string') {
    try {
      parsed = JSON.parse(output);
    } catch {
      return [];
    }
  }
  const results = (parsed as { results?: unknown })?.results;
  if (!Array.isArray(results)) return [];
  const sources: KnowledgeToolSource[] = [];
  for (const r of results as Array<Record<string, unknown>>) {
    if (
      r &&
      Number.isInteger(r.ref) &&
      (r.ref as number) > 0 &&
      typeof r.title === 'string' &&
      typeof r.source === 'string'
    ) {
      sources.push({
        ref: r.ref as number,
        title: r.title,
        source: r.source,
        ...(typeof r.section === 'string' ? { section: r.section } : {}),
      });
    }
  }
  return sources;
}

/** A knowledge-base source as ChatKit shows it: a link for URLs, a file otherwise. */
export function knowledgeSourceToChatKit(
  source: Pick<KnowledgeToolSource, 'title' | 'source' | 'section'>,
): Source {
  const title = source.title.trim() || source.source;
  if (/^https?:\/\//i.test(source.source)) {
    return {
      type: 'url',
      url: source.source,
      title,
      ...(source.section ? { description: source.section } : {}),
    };
  }
  const filename = source.source.split(/[\\/]/).filter(Boolean).at(-1) ?? source.source;
  return {
    type: 'file',
    filename,
    title,
    description: source.section ? `${source.source} — ${source.section}` : source.source,
  };
}

/** `[1]`, `[2, 3]`, `[1][4]`: the bracketed numbers a model writes as citation markers. */
const MARKER = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;

/**
 * One annotation per cited source at each marker, `index` being the offset just after the marker
 * in `text`. Numbers that match no known source are left alone; repeats of the same source at
 * the same place are merged.
 */
export function citationAnnotations(text: string, sources: Iterable<KnowledgeToolSource>): Annotation[] {
  const byRef = new Map<number, KnowledgeToolSource>();
  for (const s of sources) if (!byRef.has(s.ref)) byRef.set(s.ref, s);
  const annotations: Annotation[] = [];
  const seen = new Set<string>();
  for (const match of text.matchAll(MARKER)) {
    const index = match.index + match[0].length;
    for (const n of match[1].split(',').map((part) => Number(part.trim()))) {
      const source = byRef.get(n);
      if (!source) continue;
      const key = `${n}@${index}`;
      if (seen.has(key)) continue;
      seen.add(key);
      annotations.push({ type: 'annotation', source: knowledgeSourceToChatKit(source), index });
    }
  }
  return annotations;
}
