import { widgetProblems } from 'src/widgets/widget.template';

describe('widget schema', () => {
  it('accepts the three roots with nested components', () => {
    const card = {
      type: 'Card',
      children: [
        {
          type: 'Row',
          gap: 2,
          children: [{ type: 'Badge', label: 'new', color: 'success' }, { type: 'Spacer' }],
        },
        { type: 'Text', value: 'hello', size: 'sm', color: { light: '#000', dark: '#fff' } },
        { type: 'Button', label: 'Go', onClickAction: { type: 'go', payload: { a: 1 }, streaming: false } },
        { type: 'Transition', children: { type: 'Markdown', value: '**x**' } },
        {
          type: 'Table',
          children: [{ type: 'Table.Row', children: [{ type: 'Table.Cell', children: [] }] }],
        },
      ],
    };
    expect(widgetProblems(card)).toBeNull();
    const list = {
      type: 'ListView',
      limit: 'auto',
      children: [
        { type: 'ListViewItem', children: [{ type: 'Title', value: 'a' }], onClickAction: { type: 'open' } },
      ],
    };
    expect(widgetProblems(list)).toBeNull();
    expect(widgetProblems({ type: 'Basic', children: [card, { type: 'Icon', name: 'star' }] })).toBeNull();
  });

  it('names the bad node of a nested tree by its path', () => {
    const problem = widgetProblems({
      type: 'Card',
      children: [
        {
          type: 'Col',
          children: [
            { type: 'Text', value: 'x' },
            { type: 'Badge', label: 'x', size: 'huge' },
          ],
        },
      ],
    });
    expect(problem).toBe('children[0].children[1].size: expected one of sm, md, lg');
  });

  it('refuses unknown component types, unknown props, missing required props and non-roots', () => {
    expect(widgetProblems({ type: 'Card', children: [{ type: 'Blink', value: 'x' }] })).toMatch(
      /^children\[0\]\.type: expected one of Text, Title/,
    );
    expect(widgetProblems({ type: 'Card', children: [{ type: 'Text', value: 'x', colour: 'red' }] })).toBe(
      'children[0]: unknown key(s) colour',
    );
    expect(widgetProblems({ type: 'Card', children: [{ type: 'Text' }] })).toBe(
      'children[0].value: required',
    );
    expect(widgetProblems({ type: 'Text', value: 'x' })).toMatch(
      /^type: expected one of Card, ListView, Basic/,
    );
    // A ListView holds ListViewItems only.
    expect(widgetProblems({ type: 'ListView', children: [{ type: 'Text', value: 'x' }] })).toMatch(
      /^children\[0\]\.type: expected/,
    );
    expect(widgetProblems({ type: 'Card', children: [{ type: 'Icon', name: 'no-such-icon' }] })).toMatch(
      /^children\[0\]\.name: expected one of agent/,
    );
  });
});
