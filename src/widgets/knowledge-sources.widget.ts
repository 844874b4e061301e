/**
 * The built-in template that shows the knowledge-base search's sources as a card under the
 * answer (RAG_SOURCES_WIDGET=true). It reads the tool's output as the model gets it (query,
 * results with cite_as, title, source, section; see rag.citations) and shows nothing when the
 * search found nothing. A file of the same name in AGENT_WIDGETS_DIR replaces it.
 */
export const KNOWLEDGE_SOURCES_WIDGET = 'knowledge_base_sources';

export const KNOWLEDGE_SOURCES_TEMPLATE = {
  $if: 'results',
  type: 'Card',
  size: 'md',
  children: [
    {
      type: 'Row',
      gap: 2,
      children: [
        { type: 'Icon', name: 'book-open', size: 'sm', color: 'secondary' },
        { type: 'Caption', value: 'Sources', weight: 'semibold' },
      ],
    },
    {
      type: 'Col',
      gap: 2,
      children: [
        {
          $each: 'results',
          as: 'result',
          template: {
            type: 'Row',
            gap: 2,
            align: 'start',
            children: [
              { type: 'Badge', label: '{{result.cite_as}}', size: 'sm', variant: 'outline' },
              {
                type: 'Col',
                flex: 1,
                children: [
                  { type: 'Text', value: '{{result.title}}', size: 'sm', weight: 'medium', truncate: true },
                  { type: 'Caption', value: '{{result.source}}', size: 'sm', truncate: true },
                ],
              },
            ],
          },
        },
      ],
    },
  ],
};
