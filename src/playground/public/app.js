// The playground page: thread list, transcript, composer. State lives here; api.js speaks the
// protocol and render.js draws items.
import { ApiError, ChatKitClient, describeIdentity, loadIdentity, saveIdentity } from './api.js';
import { h, icon, renderError, renderItem, renderNotice } from './render.js';

const THREAD_PAGE = 20;
const $ = (id) => document.getElementById(id);

const serverAuthMode =
  document.querySelector('meta[name="chatkit-auth"]')?.content === 'dev' ? 'dev' : 'token';

const savedIdentity = loadIdentity(serverAuthMode);
// Development headers saved while the server was in development mode are refused now.
if (serverAuthMode === 'token') savedIdentity.mode = 'token';

const state = {
  identity: savedIdentity,
  threadId: null,
  items: [],
  feedback: new Map(),
  stopped: new Set(),
  threads: [],
  threadsAfter: undefined,
  threadsHasMore: false,
  /** While an answer streams: { controller, active: Set of item ids still open, allowCancel }. */
  streaming: null,
  attachments: [],
};

const client = new ChatKitClient(() => state.identity);

// ---------------------------------------------------------------------------------------------
// Banner and errors
// ---------------------------------------------------------------------------------------------

function showBanner(message, kind = 'error') {
  const banner = $('banner');
  banner.className = `banner banner-${kind}`;
  banner.replaceChildren(
    h('span', {}, message),
    h(
      'button',
      { type: 'button', class: 'icon', title: 'Dismiss', onclick: () => (banner.hidden = true) },
      '×',
    ),
  );
  banner.hidden = false;
}

function explain(err) {
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? ' Check the identity in the sidebar.' : '';
    return `${err.message} (${err.status ? `${err.status} ` : ''}${err.code})${hint}`;
  }
  return err?.message ?? String(err);
}

function report(err) {
  console.error(err);
  showBanner(explain(err));
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

function renderIdentity() {
  const form = $('identity-form');
  const { identity } = state;
  for (const radio of form.elements.mode) {
    radio.checked = radio.value === identity.mode;
    // Development headers only work when the server is in development mode.
    radio.disabled = radio.value === 'dev' && serverAuthMode !== 'dev';
  }
  form.elements.userId.value = identity.userId ?? '';
  form.elements.orgId.value = identity.orgId ?? '';
  form.elements.token.value = identity.token ?? '';
  form.dataset.mode = identity.mode;
  $('identity-summary').textContent = describeIdentity(identity);
}

function applyIdentity(event) {
  event.preventDefault();
  const form = $('identity-form');
  state.identity = {
    mode: form.elements.mode.value || serverAuthMode,
    userId: form.elements.userId.value.trim(),
    orgId: form.elements.orgId.value.trim(),
    token: form.elements.token.value.trim(),
  };
  saveIdentity(state.identity);
  renderIdentity();
  $('banner').hidden = true;
  newChat();
  void loadThreads(true);
}

// ---------------------------------------------------------------------------------------------
// Thread list
// ---------------------------------------------------------------------------------------------

function threadLabel(thread) {
  return thread.title || 'Untitled';
}

function renderThreads() {
  const list = $('thread-list');
  list.replaceChildren(
    ...state.threads.map((thread) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: `thread${thread.id === state.threadId ? ' active' : ''}`,
            dataset: { threadId: thread.id },
            onclick: () => void openThread(thread.id),
          },
          h('span', { class: 'thread-title' }, threadLabel(thread)),
          h(
            'span',
            { class: 'thread-date' },
            new Date(thread.created_at).toLocaleString([], {
              month: 'short',
              day: 'numeric',
              hour: '2-digit',
              minute: '2-digit',
            }),
          ),
        ),
      ),
    ),
  );
  $('threads-empty').hidden = state.threads.length > 0;
  $('load-more').hidden = !state.threadsHasMore;
}

async function loadThreads(reset) {
  try {
    const params = { limit: THREAD_PAGE, order: 'desc' };
    if (!reset && state.threadsAfter) params.after = state.threadsAfter;
    const page = await client.request('threads.list', params);
    const known = new Set(reset ? [] : state.threads.map((t) => t.id));
    state.threads = [...(reset ? [] : state.threads), ...page.data.filter((t) => !known.has(t.id))];
    state.threadsAfter = page.after;
    state.threadsHasMore = page.has_more;
    renderThreads();
  } catch (err) {
    if (reset) {
      state.threads = [];
      renderThreads();
    }
    report(err);
  }
}

/** A thread the current stream created or renamed: shown at once, without another list call. */
function rememberThread(thread) {
  const index = state.threads.findIndex((t) => t.id === thread.id);
  if (index === -1) state.threads.unshift(thread);
  else state.threads[index] = { ...state.threads[index], ...thread };
  renderThreads();
}

// ---------------------------------------------------------------------------------------------
// Transcript
// ---------------------------------------------------------------------------------------------

function setHeader(thread) {
  $('thread-title').textContent = thread ? threadLabel(thread) : 'New chat';
  $('thread-id').textContent = thread?.id ?? '';
}

function itemContext(item) {
  const streaming = Boolean(state.streaming?.active.has(item.id));
  const index = state.items.indexOf(item);
  const canRetry = !state.streaming && state.items.slice(0, index).some((i) => i.type === 'user_message');
  return {
    streaming,
    stopped: state.stopped.has(item.id),
    feedback: state.feedback.get(item.id),
    canRetry,
    onFeedback: (target, kind) => void sendFeedback(target, kind),
    onRetry: (target) => void retryFrom(target),
  };
}

function elementOf(itemId) {
  return $('transcript').querySelector(`[data-item-id="${CSS.escape(itemId)}"]`);
}

function scrollToEnd() {
  const transcript = $('transcript');
  const nearEnd = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 160;
  if (nearEnd || !state.streaming) transcript.scrollTop = transcript.scrollHeight;
}

function drawItem(item) {
  $('welcome')?.remove();
  const next = renderItem(item, itemContext(item));
  const current = elementOf(item.id);
  if (current && next) current.replaceWith(next);
  else if (current) current.remove();
  else if (next) $('transcript').append(next);
  scrollToEnd();
}

function drawTranscript() {
  const transcript = $('transcript');
  transcript.replaceChildren();
  if (!state.items.length && !state.threadId) {
    transcript.append(
      h(
        'div',
        { class: 'welcome', id: 'welcome' },
        h('h3', {}, 'Talk to the gateway'),
        h(
          'p',
          {},
          'Messages go to ',
          h('code', {}, 'POST /chatkit'),
          '; answers stream back as Server-Sent Events. Attach files, stop an answer half-way, retry it, rate it.',
        ),
      ),
    );
    return;
  }
  for (const item of state.items) drawItem(item);
}

/** Deltas arrive faster than frames: redraw each streaming item at most once per frame. */
const dirty = new Set();
let frameRequested = false;
function redrawSoon(item) {
  dirty.add(item);
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    for (const dirtyItem of dirty) if (state.items.includes(dirtyItem)) drawItem(dirtyItem);
    dirty.clear();
  });
}

function newChat() {
  abortStream();
  state.threadId = null;
  state.items = [];
  history.replaceState(null, '', location.pathname);
  setHeader(null);
  drawTranscript();
  renderThreads();
  $('message').focus();
}

async function openThread(threadId) {
  // Leaving a thread while it answers stops the answer, as the stop button would (the server
  // keeps what was said so far).
  if (state.streaming) {
    const { finished } = state.streaming;
    abortStream();
    await finished;
  }
  try {
    const thread = await client.request('threads.get_by_id', { thread_id: threadId });
    const items = [...thread.items.data];
    // threads.get_by_id gives the oldest page; the rest follows in order.
    let page = thread.items;
    while (page.has_more && page.after) {
      page = await client.request('items.list', {
        thread_id: threadId,
        after: page.after,
        order: 'asc',
        limit: 100,
      });
      items.push(...page.data);
    }
    state.threadId = thread.id;
    state.items = items;
    history.replaceState(null, '', `#${thread.id}`);
    setHeader(thread);
    rememberThread({ ...thread, items: undefined });
    drawTranscript();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      history.replaceState(null, '', location.pathname);
      showBanner(`Thread ${threadId} was not found for this identity.`);
    } else report(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

function ensurePart(item, index) {
  item.content ??= [];
  while (item.content.length <= index) item.content.push({ type: 'output_text', text: '', annotations: [] });
  return item.content[index];
}

function applyUpdate(item, update) {
  switch (update.type) {
    case 'assistant_message.content_part.added':
    case 'assistant_message.content_part.done':
      ensurePart(item, update.content_index);
      item.content[update.content_index] = { annotations: [], ...update.content };
      break;
    case 'assistant_message.content_part.text_delta':
      ensurePart(item, update.content_index).text += update.delta;
      break;
    case 'assistant_message.content_part.annotation_added': {
      const part = ensurePart(item, update.content_index);
      part.annotations ??= [];
      part.annotations.splice(
        Math.min(update.annotation_index, part.annotations.length),
        0,
        update.annotation,
      );
      break;
    }
    case 'workflow.task.added':
    case 'workflow.task.updated':
      item.workflow ??= { type: 'custom', tasks: [] };
      item.workflow.tasks[update.task_index] = update.task;
      break;
    case 'widget.root.updated':
      item.widget = update.widget;
      break;
    case 'generated_image.updated':
      item.image = update.image;
      break;
    default:
      break;
  }
}

function upsertItem(item) {
  const index = state.items.findIndex((i) => i.id === item.id);
  if (index === -1) state.items.push(item);
  else state.items[index] = item;
  drawItem(item);
}

function handleEvent(event) {
  const stream = state.streaming;
  switch (event.type) {
    case 'thread.created':
      state.threadId = event.thread.id;
      history.replaceState(null, '', `#${event.thread.id}`);
      setHeader(event.thread);
      rememberThread(event.thread);
      break;
    case 'thread.updated':
      setHeader(event.thread);
      rememberThread(event.thread);
      break;
    case 'thread.item.added':
      stream?.active.add(event.item.id);
      upsertItem(event.item);
      break;
    case 'thread.item.updated': {
      const item = state.items.find((i) => i.id === event.item_id);
      if (item) {
        applyUpdate(item, event.update);
        redrawSoon(item);
      }
      break;
    }
    case 'thread.item.done':
    case 'thread.item.replaced':
      stream?.active.delete(event.item.id);
      upsertItem(event.item);
      break;
    case 'thread.item.removed':
      state.items = state.items.filter((i) => i.id !== event.item_id);
      elementOf(event.item_id)?.remove();
      break;
    case 'stream_options':
      if (stream) stream.allowCancel = event.stream_options?.allow_cancel !== false;
      setBusy(true);
      break;
    case 'progress_update':
      $('progress-line').replaceChildren(h('span', { class: 'spinner' }), ` ${event.text}`);
      $('progress-line').hidden = false;
      break;
    case 'error':
      $('transcript').append(renderError(event, () => void retryLast()));
      scrollToEnd();
      break;
    case 'notice':
      $('transcript').append(renderNotice(event));
      scrollToEnd();
      break;
    default:
      // client_effect and anything newer: nothing to show.
      break;
  }
  // A progress line stands until the answer starts (tools and their workflow come before it).
  if (event.type === 'thread.item.added' && event.item.type === 'assistant_message') {
    $('progress-line').hidden = true;
  }
}

function setBusy(busy) {
  const cancellable = busy && state.streaming?.allowCancel !== false;
  $('send').hidden = busy;
  $('stop').hidden = !cancellable;
  $('composer').classList.toggle('busy', busy);
  updateSendState();
}

async function runStream(type, params) {
  const controller = new AbortController();
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  state.streaming = { controller, active: new Set(), allowCancel: true, finished };
  setBusy(true);
  const open = () => state.items.filter((i) => state.streaming?.active.has(i.id));
  let stillOpen = [];
  try {
    const result = await client.stream(type, params, handleEvent, controller.signal);
    stillOpen = open();
    // What was shown stays: the server keeps a stopped answer's text too.
    if (result.aborted) for (const item of stillOpen) state.stopped.add(item.id);
  } catch (err) {
    stillOpen = open();
    report(err);
  } finally {
    state.streaming = null;
    $('progress-line').hidden = true;
    setBusy(false);
    for (const item of state.items)
      if (item.type === 'assistant_message' || stillOpen.includes(item)) drawItem(item);
    finish();
  }
}

function abortStream() {
  state.streaming?.controller.abort();
}

async function retryFrom(item) {
  const index = state.items.indexOf(item);
  const user = state.items
    .slice(0, index + 1)
    .reverse()
    .find((i) => i.type === 'user_message');
  if (!user || !state.threadId) return;
  // The server deletes everything after the message without telling: do the same here.
  const keep = state.items.indexOf(user) + 1;
  state.items = state.items.slice(0, keep);
  drawTranscript();
  await runStream('threads.retry_after_item', { thread_id: state.threadId, item_id: user.id });
}

async function retryLast() {
  const last = [...state.items].reverse().find((i) => i.type === 'user_message');
  if (last) await retryFrom(last);
}

async function sendFeedback(item, kind) {
  try {
    await client.request('items.feedback', { thread_id: state.threadId, item_ids: [item.id], kind });
    state.feedback.set(item.id, kind);
    drawItem(item);
  } catch (err) {
    report(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Composer and attachments
// ---------------------------------------------------------------------------------------------

let nextLocalId = 1;

/** Widths are set through the style object: the page's CSP refuses inline style attributes. */
function progressBar(progress) {
  const percent = Math.round(progress * 100);
  const fill = h('div', { class: 'bar-fill' });
  fill.style.width = `${percent}%`;
  return h(
    'div',
    { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent },
    fill,
  );
}

function renderChips() {
  $('attachment-chips').replaceChildren(
    ...state.attachments.map((entry) =>
      h(
        'li',
        {
          class: `chip chip-${entry.status}`,
          'data-testid': 'attachment-chip',
          dataset: { status: entry.status },
        },
        entry.localPreview
          ? h('img', {
              src: entry.localPreview,
              alt: '',
              class: 'chip-preview',
              'data-testid': 'chip-preview',
            })
          : h('span', { class: 'chip-icon' }, icon('file')),
        h(
          'div',
          { class: 'chip-body' },
          h('span', { class: 'chip-name', title: entry.name }, entry.name),
          entry.status === 'failed'
            ? h('span', { class: 'chip-error' }, entry.error)
            : progressBar(entry.progress),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'icon',
            title: `Remove ${entry.name}`,
            onclick: () => void removeAttachment(entry),
          },
          '×',
        ),
      ),
    ),
  );
  updateSendState();
}

function updateChipProgress(entry) {
  const index = state.attachments.indexOf(entry);
  const chip = $('attachment-chips').children[index];
  const bar = chip?.querySelector('.bar');
  if (!bar) return renderChips();
  const percent = Math.round(entry.progress * 100);
  bar.setAttribute('aria-valuenow', String(percent));
  bar.firstElementChild.style.width = `${percent}%`;
}

async function addAttachment(file) {
  const entry = {
    localId: nextLocalId++,
    name: file.name,
    status: 'uploading',
    progress: 0,
    localPreview: file.type.startsWith('image/') ? URL.createObjectURL(file) : null,
  };
  state.attachments.push(entry);
  renderChips();
  try {
    const attachment = await client.request('attachments.create', {
      name: file.name,
      size: file.size,
      mime_type: file.type || 'application/octet-stream',
    });
    entry.id = attachment.id;
    if (!state.attachments.includes(entry))
      return void client
        .request('attachments.delete', { attachment_id: attachment.id })
        .catch(() => undefined);
    if (attachment.upload_descriptor) {
      entry.upload = client.upload(attachment.upload_descriptor, file, (progress) => {
        entry.progress = progress;
        updateChipProgress(entry);
      });
      await entry.upload.done;
    }
    entry.progress = 1;
    entry.status = 'ready';
  } catch (err) {
    if (!state.attachments.includes(entry)) return;
    entry.status = 'failed';
    entry.error = explain(err);
  }
  renderChips();
}

async function removeAttachment(entry) {
  state.attachments = state.attachments.filter((e) => e !== entry);
  entry.upload?.abort();
  if (entry.localPreview) URL.revokeObjectURL(entry.localPreview);
  renderChips();
  if (entry.id)
    await client.request('attachments.delete', { attachment_id: entry.id }).catch(() => undefined);
}

function updateSendState() {
  const uploading = state.attachments.some((e) => e.status === 'uploading');
  const text = $('message').value.trim();
  $('send').disabled = Boolean(state.streaming) || uploading || !text;
  $('send').title = uploading ? 'Waiting for the uploads to finish' : '';
}

async function send(event) {
  event?.preventDefault();
  const text = $('message').value.trim();
  if (!text || state.streaming || state.attachments.some((e) => e.status === 'uploading')) return;
  const ready = state.attachments.filter((e) => e.status === 'ready');
  const input = {
    content: [{ type: 'input_text', text }],
    attachments: ready.map((e) => e.id),
    inference_options: {},
  };
  $('message').value = '';
  autoGrow();
  for (const entry of state.attachments) if (entry.localPreview) URL.revokeObjectURL(entry.localPreview);
  state.attachments = [];
  renderChips();
  $('banner').hidden = true;
  if (state.threadId) await runStream('threads.add_user_message', { thread_id: state.threadId, input });
  else await runStream('threads.create', { input });
}

function autoGrow() {
  const box = $('message');
  box.style.height = 'auto';
  box.style.height = `${Math.min(box.scrollHeight, 220)}px`;
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

function start() {
  document.querySelector('.attach-icon').append(icon('clip'));
  renderIdentity();
  $('identity').open = state.identity.mode === 'token' ? !state.identity.token : !state.identity.userId;
  $('identity-form').addEventListener('submit', applyIdentity);
  $('identity-form').addEventListener('change', (event) => {
    if (event.target.name === 'mode') $('identity-form').dataset.mode = event.target.value;
  });
  $('new-chat').addEventListener('click', newChat);
  $('load-more').addEventListener('click', () => void loadThreads(false));
  $('composer').addEventListener('submit', (event) => void send(event));
  $('stop').addEventListener('click', abortStream);
  $('message').addEventListener('input', () => {
    autoGrow();
    updateSendState();
  });
  $('message').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) void send(event);
  });
  $('file-input').addEventListener('change', (event) => {
    for (const file of event.target.files) void addAttachment(file);
    event.target.value = '';
  });
  const composer = $('composer');
  composer.addEventListener('dragover', (event) => {
    event.preventDefault();
    composer.classList.add('dragging');
  });
  composer.addEventListener('dragleave', () => composer.classList.remove('dragging'));
  composer.addEventListener('drop', (event) => {
    event.preventDefault();
    composer.classList.remove('dragging');
    for (const file of event.dataTransfer.files) void addAttachment(file);
  });
  updateSendState();
  void loadThreads(true);
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash) void openThread(hash);
  document.body.dataset.ready = 'true';
}

start();
