import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChecked, templateProblems } from 'src/widgets/widget-templates.service';
import { placeholderProblems, renderTemplate, widgetProblems } from 'src/widgets/widget.template';
import { KNOWLEDGE_SOURCES_TEMPLATE } from 'src/widgets/knowledge-sources.widget';

const order = {
  id: 'A-17',
  status: 'shipped',
  refundable: true,
  items: [
    { name: 'Kettle', qty: 1 },
    { name: 'Mug', qty: 4 },
  ],
};

describe('widget templates', () => {
  it('fills whole-string placeholders with typed values and embedded ones with text', () => {
    const tree = renderTemplate(
      {
        type: 'Card',
        children: [
          { type: 'Text', value: 'Order {{id}} has {{items.length}} lines, first {{items.0.name}}' },
          { type: 'Image', src: '{{image}}', size: '{{size}}' },
        ],
      },
      { ...order, size: 48 },
    );
    expect(tree).toEqual({
      type: 'Card',
      children: [
        { type: 'Text', value: 'Order A-17 has 2 lines, first Kettle' },
        // No `image` in the data: the prop is left out, so the schema reports it as required.
        { type: 'Image', size: 48 },
      ],
    });
    expect(widgetProblems(tree)).toBe('children[1].src: required');
  });

  it('repeats $each blocks per list element and drops components whose $if is false', () => {
    const template = {
      type: 'ListView',
      children: [
        {
          $each: 'items',
          as: 'line',
          template: {
            type: 'ListViewItem',
            children: [{ type: 'Text', value: '{{$index}}: {{line.name}} × {{line.qty}}' }],
          },
        },
        { $if: 'missing', type: 'ListViewItem', children: [] },
      ],
    };
    expect(renderTemplate(template, order)).toEqual({
      type: 'ListView',
      children: [
        { type: 'ListViewItem', children: [{ type: 'Text', value: '0: Kettle × 1' }] },
        { type: 'ListViewItem', children: [{ type: 'Text', value: '1: Mug × 4' }] },
      ],
    });
    expect(renderTemplate({ ...template, $if: 'items' }, { items: [] })).toBeUndefined();
  });

  it('reads a tool output that is JSON text as JSON, and a scalar as `value`', () => {
    const result = renderChecked(
      { type: 'Card', children: [{ type: 'Text', value: '{{value}}' }] },
      'plain words from a tool',
    );
    expect(result).toEqual({
      widget: { type: 'Card', children: [{ type: 'Text', value: 'plain words from a tool' }] },
    });
  });

  it('reports a tool output that makes a bad tree instead of throwing', () => {
    const result = renderChecked(
      { type: 'Card', children: [{ type: 'Badge', label: '{{status}}' }] },
      { status: 7 },
    );
    expect(result).toEqual({ widget: null, problem: 'children[0].label: expected string, received number' });
  });

  it('refuses malformed placeholders and $each blocks by path', () => {
    expect(
      placeholderProblems({
        type: 'Card',
        children: [
          { type: 'Text', value: '{{ order..id }}' },
          { type: 'Text', value: '{{open' },
          { $each: 'items', template: 'x', extra: 1 },
        ],
        confirm: { $each: 'items', template: {} },
      }),
    ).toEqual([
      'children[0].value: "{{order..id}}" is not a path (names and list positions joined by dots)',
      'children[1].value: unbalanced {{ }}',
      'children[2]: unknown key(s) extra beside $each',
      'children[2].template: expected a component object',
      'confirm: $each may only appear as an element of a list',
    ]);
  });

  it('judges a template by the schema, leaving whole-string placeholders to the data', () => {
    expect(
      templateProblems('t.json', {
        type: 'Card',
        children: [{ type: 'Badge', label: 'x', size: '{{size}}' }],
      }),
    ).toEqual([]);
    expect(
      templateProblems('t.json', {
        type: 'Card',
        children: [
          { $each: 'items', template: { type: 'Row', children: [{ type: 'Txt', value: '{{item}}' }] } },
        ],
      }),
    ).toEqual([
      expect.stringMatching(
        /^t\.json: not a widget ChatKit\.js can render: children\[0\]\.children\[0\]\.type: expected one of/,
      ),
    ]);
  });

  it('the built-in knowledge-base sources template passes its own checks and renders the tool output', () => {
    expect(templateProblems('built-in', KNOWLEDGE_SOURCES_TEMPLATE)).toEqual([]);
    const output = JSON.stringify({
      query: 'refunds',
      results: [{ ref: 1, cite_as: '[1]', title: 'Refund policy', source: 'policies/refunds.md', text: '…' }],
      note: '',
    });
    const rendered = renderChecked(KNOWLEDGE_SOURCES_TEMPLATE, JSON.parse(output));
    expect(rendered.widget).not.toBeNull();
    expect(JSON.stringify(rendered.widget)).toContain('Refund policy');
    expect(renderChecked(KNOWLEDGE_SOURCES_TEMPLATE, { query: 'x', results: [] })).toEqual({ widget: null });
  });

  it('every example template in examples/tools/widgets passes the boot checks', () => {
    const dir = join(__dirname, '..', '..', 'examples', 'tools', 'widgets');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files)
      expect(templateProblems(file, JSON.parse(readFileSync(join(dir, file), 'utf8')))).toEqual([]);
    const card = renderChecked(JSON.parse(readFileSync(join(dir, 'order_card.json'), 'utf8')), order);
    expect(card.widget).not.toBeNull();
    expect(JSON.stringify(card.widget)).toContain('"payload":{"order_id":"A-17"}');
  });
});
