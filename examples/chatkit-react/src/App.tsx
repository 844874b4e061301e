/**
 * ChatKit pointed at ChatKit Gateway: the thread list and history, attachments uploaded in two
 * phases, and errors surfaced. Mount it as usual, e.g. `createRoot(el).render(<App />)`, on a page
 * that loads the ChatKit web component from OpenAI's CDN (see docs/frontend.md).
 */
import { ChatKit, useChatKit } from '@openai/chatkit-react';
import { gatewayApi, type TokenSource } from './gateway';

/**
 * Replace with your sign-in's token (e.g. from your identity provider's SDK). Returning null
 * sends the development headers instead, which only a server in development mode accepts.
 */
const getToken: TokenSource = async () => sessionStorage.getItem('chatkit-token');

export function App() {
  const { control } = useChatKit({
    api: gatewayApi(getToken),
    // threads.list, threads.update and threads.delete: the user's own threads only.
    history: { enabled: true, showRename: true, showDelete: true },
    startScreen: {
      greeting: 'Ask about the documents in the knowledge base',
      prompts: [{ label: 'Attachments', prompt: 'How do attachments work?' }],
    },
    composer: {
      placeholder: 'Ask a question',
      // The gateway's own limits still apply (CHATKIT_ATTACHMENT_MAX_MB, ATTACHMENTS_ALLOWED_MIME).
      attachments: {
        enabled: true,
        maxSize: 20 * 1024 * 1024,
        maxCount: 5,
        accept: { 'image/*': ['.png', '.jpg', '.jpeg', '.gif', '.webp'], 'application/pdf': ['.pdf'] },
      },
    },
    onError: ({ error }) => console.error('ChatKit error', error),
    onThreadChange: ({ threadId }) => console.info('thread', threadId),
  });
  return <ChatKit control={control} style={{ height: '100vh', width: '100%' }} />;
}
