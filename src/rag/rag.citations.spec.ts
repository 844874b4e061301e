import {
  citationAnnotations,
  formatKnowledgeToolOutput,
  knowledgeSourcesFromToolOutput,
  knowledgeSourceToChatKit,
  type KnowledgeToolPassage,
} from 'src/rag/rag.citations';

const passages: KnowledgeToolPassage[] = [
  {
    ref: 1,
    title: 'Field Office Handbook',
    source: 'docs/handbook.md',
    section: 'Kitchen > Coffee',
    text: 'Restart the espresso machine.',
  },
  {
    ref: 2,
    title: 'Visitor Guide',
    source: 'https://intranet.example.com/visitors',
    text: 'Two café vouchers per guest.',
  },
];

describe('the knowledge tool output', () => {
  it('lists each passage with its marker, and the sources read back exactly', () => {
    const output = formatKnowledgeToolOutput('coffee', passages);
    const parsed = JSON.parse(output);
    expect(parsed.query).toBe('coffee');
    expect(parsed.results.map((r: { cite_as: string }) => r.cite_as)).toEqual(['[1]', '[2]']);
    expect(parsed.results[0].text).toBe('Restart the espresso machine.');
    expect(parsed.note).toMatch(/\[1\]/);
    expect(knowledgeSourcesFromToolOutput(output)).toEqual([
      { ref: 1, title: 'Field Office Handbook', source: 'docs/handbook.md', section: 'Kitchen > Coffee' },
      { ref: 2, title: 'Visitor Guide', source: 'https://intranet.example.com/visitors' },
    ]);
    expect(knowledgeSourcesFromToolOutput(parsed)).toHaveLength(2);
  });

  it('tells the model plainly when nothing matched', () => {
    const parsed = JSON.parse(formatKnowledgeToolOutput('nothing', []));
    expect(parsed.results).toEqual([]);
    expect(parsed.note).toMatch(/nothing/i);
  });

  it('reads no sources out of other tools’ output or malformed entries', () => {
    expect(knowledgeSourcesFromToolOutput('not json')).toEqual([]);
    expect(knowledgeSourcesFromToolOutput('{"weather":"sunny"}')).toEqual([]);
    expect(knowledgeSourcesFromToolOutput(undefined)).toEqual([]);
    expect(
      knowledgeSourcesFromToolOutput({
        results: [
          { ref: 0, title: 't', source: 's' },
          { ref: 2, title: 't' },
          { ref: 3, title: 't', source: 's' },
          null,
        ],
      }),
    ).toEqual([{ ref: 3, title: 't', source: 's' }]);
  });
});

describe('citationAnnotations', () => {
  const sources = knowledgeSourcesFromToolOutput(formatKnowledgeToolOutput('q', passages));

  it('puts one annotation per cited source right after each marker', () => {
    const text = 'Restart it from the laptop [1]. Guests get vouchers [2][1], see also [1, 2].';
    const annotations = citationAnnotations(text, sources);
    expect(annotations.map((a) => [a.index, a.source.title])).toEqual([
      [text.indexOf('[1].') + 3, 'Field Office Handbook'],
      [text.indexOf('[2][1]') + 3, 'Visitor Guide'],
      [text.indexOf('[2][1]') + 6, 'Field Office Handbook'],
      [text.length - 1, 'Field Office Handbook'],
      [text.length - 1, 'Visitor Guide'],
    ]);
  });

  it('leaves numbers that no passage carries alone', () => {
    expect(citationAnnotations('See [3] and the array a[0] and [12].', sources)).toEqual([]);
    expect(citationAnnotations('No markers at all.', sources)).toEqual([]);
  });

  it('merges a source repeated inside one marker', () => {
    expect(citationAnnotations('Twice [1, 1].', sources)).toHaveLength(1);
  });

  it('shows URLs as links and paths as files with their section', () => {
    expect(knowledgeSourceToChatKit(sources[1])).toEqual({
      type: 'url',
      url: 'https://intranet.example.com/visitors',
      title: 'Visitor Guide',
    });
    expect(knowledgeSourceToChatKit(sources[0])).toEqual({
      type: 'file',
      filename: 'handbook.md',
      title: 'Field Office Handbook',
      description: 'docs/handbook.md — Kitchen > Coffee',
    });
  });
});
