/**
 * A loopback TCP proxy in front of the test database that a test can cut and restore, to show
 * how the app behaves while its database is unreachable — on the embedded and on a real server.
 *
 * Two kinds of outage: `cut()` refuses connections and kills open ones (the peer learns at once),
 * `blackhole()` keeps every socket open but stops moving bytes (a firewall silently dropping
 * packets: the peer learns nothing and waits), either for every connection or only for those
 * open at that moment. `forward()` ends a blackhole: what was held back
 * flows again, as TCP retransmission would deliver it once the network is back.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  private server?: Server;
  private sockets = new Set<Socket>();
  private pairs = new Set<Pair>();
  private holding = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    return new TcpProxy(u.hostname, Number(u.port || 5432));
  }

  /** The same URL, pointed at the proxy. */
  proxiedUrl(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pair = { client, upstream };
      this.sockets.add(client).add(upstream);
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      if (this.holding) hold(pair);
      else link(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Refuses new connections and kills open ones, like a database that went away. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.holding = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Keeps every connection, and accepts new ones, but moves no byte in either direction. With
   * `open`, only the connections open now go silent and new ones work: a firewall or NAT that
   * forgot those connections, while the database itself is fine.
   */
  blackhole(scope: 'all' | 'open' = 'all'): void {
    this.holding = scope === 'all';
    for (const pair of this.pairs) hold(pair);
  }

  /** Moves bytes again, starting with those held back during the blackhole. */
  forward(): void {
    this.holding = false;
    for (const pair of this.pairs) link(pair);
  }

  async stop(): Promise<void> {
    await this.cut();
  }
}

function link({ client, upstream }: Pair): void {
  client.pipe(upstream);
  upstream.pipe(client);
}

/** Unread bytes stay in the socket buffers, so nothing is lost, only delayed. */
function hold({ client, upstream }: Pair): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  client.pause();
  upstream.pause();
}
