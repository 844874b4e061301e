// Turning ChatKit thread items into DOM. Model text is markdown: parsed by marked, then cleaned
// by DOMPurify before it touches the page, because the model (or a poisoned document it quotes)
// can write any HTML.
import { Renderer, marked } from '../vendor/marked.esm.js';
import DOMPurify from '../vendor/purify.es.mjs';

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Creates an element: `h('div', { class: 'x', onclick: fn }, child, 'text')`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function escapeHtml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

// HTML the model writes is shown as text, as ChatKit does: an answer is markdown, and raw HTML
// in it is far more often an example than meant to be rendered. DOMPurify still cleans what
// marked makes of the markdown itself (a `javascript:` link, for one).
const renderer = new Renderer();
renderer.html = ({ text }) => escapeHtml(text);

// Line icons drawn here rather than emoji: emoji fonts are missing on many Linux desktops.
const ICONS = {
  thumbUp: 'M7 11v9H4v-9h3zm0 0 4-7c1.4 0 2.3 1 2 2.4L12.4 10H18a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 16.8 20H7',
  thumbDown: 'M17 13V4h3v9h-3zm0 0-4 7c-1.4 0-2.3-1-2-2.4l.6-3.6H6a2 2 0 0 1-2-2.3l1.2-6A2 2 0 0 1 7.2 4H17',
  clip: 'M20 11.5 12 19.5a5 5 0 0 1-7-7L13.5 4a3.5 3.5 0 0 1 5 5L10 17.5a2 2 0 0 1-3-3L14.5 7',
  file: 'M6 3h8l4 4v14H6zM14 3v4h4',
  tool: 'M14.5 6.5a4 4 0 0 0 5 5L13 18a2.1 2.1 0 0 1-3-3l6.5-6.5a4 4 0 0 0-2-2zM4 20l5-5',
};

export function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'svg-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

export function markdown(text) {
  const el = h('div', { class: 'markdown' });
  el.innerHTML = DOMPurify.sanitize(marked.parse(text ?? '', { async: false, gfm: true, renderer }));
  return el;
}

function time(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Every source cited in an assistant message, numbered once each, in order of first citation. */
function sourcesOf(item) {
  const seen = new Map();
  for (const part of item.content ?? []) {
    for (const annotation of part.annotations ?? []) {
      const source = annotation.source ?? {};
      const key = source.url ?? source.filename ?? source.id ?? source.title;
      if (key !== undefined && !seen.has(key)) seen.set(key, source);
    }
  }
  return [...seen.values()];
}

function renderSource(source) {
  const label = source.title || source.label || source.url || source.filename || source.id;
  if (source.type === 'url' && /^https?:\/\//i.test(source.url ?? '')) {
    return h(
      'li',
      {},
      h('a', { href: source.url, target: '_blank', rel: 'noopener noreferrer' }, label),
      source.attribution ? h('span', { class: 'muted' }, ` · ${source.attribution}`) : null,
    );
  }
  if (source.type === 'file')
    return h(
      'li',
      {},
      icon('file'),
      label,
      source.filename && source.filename !== label
        ? h('span', { class: 'muted' }, ` · ${source.filename}`)
        : null,
    );
  return h('li', {}, label);
}

function assistantMessage(item, ctx) {
  const text = (item.content ?? []).map((part) => part.text ?? '').join('\n\n');
  const sources = sourcesOf(item);
  const body = h('div', { class: 'bubble assistant-bubble' }, markdown(text));
  if (ctx.streaming) body.append(h('span', { class: 'cursor', 'aria-hidden': 'true' }));
  if (sources.length) {
    body.append(
      h(
        'div',
        { class: 'sources', 'data-testid': 'sources' },
        h('span', { class: 'sources-title' }, 'Sources'),
        h('ol', {}, sources.map(renderSource)),
      ),
    );
  }
  const actions = ctx.streaming
    ? null
    : h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'icon',
            title: 'Good answer',
            'data-testid': 'thumbs-up',
            'aria-pressed': String(ctx.feedback === 'positive'),
            onclick: () => ctx.onFeedback(item, 'positive'),
          },
          icon('thumbUp'),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'icon',
            title: 'Bad answer',
            'data-testid': 'thumbs-down',
            'aria-pressed': String(ctx.feedback === 'negative'),
            onclick: () => ctx.onFeedback(item, 'negative'),
          },
          icon('thumbDown'),
        ),
        ctx.canRetry
          ? h(
              'button',
              {
                type: 'button',
                class: 'icon text',
                title: 'Answer again',
                'data-testid': 'retry',
                onclick: () => ctx.onRetry(item),
              },
              '↻ Retry',
            )
          : null,
        h(
          'button',
          {
            type: 'button',
            class: 'icon text',
            title: 'Copy the text',
            onclick: () => navigator.clipboard?.writeText(text),
          },
          'Copy',
        ),
        ctx.stopped ? h('span', { class: 'muted stopped', 'data-testid': 'stopped' }, 'stopped') : null,
      );
  return [body, actions];
}

function userMessage(item) {
  const parts = (item.content ?? []).map((part) =>
    part.type === 'input_tag'
      ? h('span', { class: 'tag' }, `@${part.text}`)
      : h('span', { class: 'user-text' }, part.text),
  );
  const attachments = (item.attachments ?? []).map((attachment) =>
    attachment.type === 'image' && attachment.preview_url
      ? h(
          'a',
          { href: attachment.preview_url, target: '_blank', rel: 'noopener noreferrer', class: 'thumb' },
          h('img', { src: attachment.preview_url, alt: attachment.name, 'data-testid': 'message-image' }),
        )
      : h('span', { class: 'file-chip' }, icon('file'), attachment.name),
  );
  return [
    item.quoted_text ? h('blockquote', {}, item.quoted_text) : null,
    attachments.length ? h('div', { class: 'message-attachments' }, attachments) : null,
    h('div', { class: 'bubble user-bubble' }, parts),
  ];
}

const STATUS_ICON = { loading: h('span', { class: 'spinner' }), complete: '✓', none: '•' };

function renderTask(task) {
  const icon = STATUS_ICON[task.status_indicator ?? 'none'];
  const title =
    task.title ??
    task.title_query ??
    { thought: 'Thought', web_search: 'Searched the web', file: 'Read files', image: 'Image' }[task.type] ??
    'Step';
  return h(
    'li',
    { class: `task task-${task.status_indicator ?? 'none'}` },
    h('span', { class: 'task-icon' }, icon instanceof Node ? icon.cloneNode(true) : icon),
    h(
      'div',
      { class: 'task-body' },
      h('div', { class: 'task-title' }, title),
      task.content ? markdown(task.content) : null,
      task.queries?.length ? h('div', { class: 'muted' }, task.queries.join(' · ')) : null,
      task.sources?.length ? h('ul', { class: 'task-sources' }, task.sources.map(renderSource)) : null,
    ),
  );
}

function workflow(item, ctx) {
  const wf = item.workflow ?? { tasks: [] };
  const summary =
    wf.summary?.title ??
    (wf.summary?.duration !== undefined
      ? `${wf.type === 'reasoning' ? 'Thought' : 'Worked'} for ${wf.summary.duration}s`
      : ctx.streaming
        ? 'Working…'
        : `${wf.tasks.length} step${wf.tasks.length === 1 ? '' : 's'}`);
  return h(
    'details',
    { class: 'workflow', open: ctx.streaming || wf.expanded },
    h('summary', {}, summary),
    h('ol', { class: 'tasks' }, wf.tasks.map(renderTask)),
  );
}

function toolCall(item) {
  return h(
    'details',
    { class: 'tool-call' },
    h(
      'summary',
      {},
      icon('tool'),
      ` ${item.name}`,
      h('span', { class: `badge ${item.status}` }, item.status),
    ),
    h('pre', {}, JSON.stringify(item.arguments ?? {}, null, 2)),
    item.output !== undefined ? h('pre', {}, JSON.stringify(item.output, null, 2)) : null,
  );
}

function widget(item) {
  return h(
    'details',
    { class: 'widget' },
    h('summary', {}, 'Widget', item.copy_text ? h('span', { class: 'muted' }, ` · ${item.copy_text}`) : null),
    h('pre', {}, JSON.stringify(item.widget, null, 2)),
  );
}

/**
 * The element for one thread item, or null for items with nothing to show (end_of_turn).
 * `ctx`: { streaming, stopped, feedback, canRetry, onFeedback(item, kind), onRetry(item) }.
 */
export function renderItem(item, ctx = {}) {
  let content;
  switch (item.type) {
    case 'user_message':
      content = userMessage(item);
      break;
    case 'assistant_message':
      content = assistantMessage(item, ctx);
      break;
    case 'workflow':
      content = workflow(item, ctx);
      break;
    case 'task':
      content = h('ol', { class: 'tasks' }, renderTask(item.task));
      break;
    case 'client_tool_call':
      content = toolCall(item);
      break;
    case 'widget':
      content = widget(item);
      break;
    case 'generated_image':
      content = item.image?.url
        ? h('img', { class: 'generated', src: item.image.url, alt: 'generated image' })
        : h('div', { class: 'muted' }, 'Generating an image…');
      break;
    case 'end_of_turn':
      return null;
    default:
      content = h('pre', { class: 'unknown' }, JSON.stringify(item, null, 2));
  }
  const role = item.type === 'user_message' ? 'user' : 'assistant';
  return h(
    'article',
    {
      class: `item item-${item.type} from-${role}`,
      dataset: { itemId: item.id, itemType: item.type },
      'data-testid': item.type,
    },
    content,
    h('time', { datetime: item.created_at, class: 'muted stamp' }, time(item.created_at)),
  );
}

export function renderError(event, onRetry) {
  const text =
    event.message || (event.code === 'stream.error' ? 'The answer failed.' : `Error: ${event.code}`);
  return h(
    'div',
    { class: 'event-error', role: 'alert', 'data-testid': 'stream-error' },
    h('span', {}, `⚠ ${text}`),
    event.allow_retry && onRetry
      ? h('button', { type: 'button', class: 'secondary', onclick: onRetry }, 'Retry')
      : null,
  );
}

export function renderNotice(event) {
  return h(
    'div',
    { class: `notice notice-${event.level}`, role: 'status' },
    event.title ? h('strong', {}, event.title) : null,
    markdown(event.message),
  );
}
