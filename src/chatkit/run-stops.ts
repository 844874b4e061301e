/**
 * Stop from anywhere: a stop request for a thread ends its running answer on whichever replica
 * streams it. The replica asked marks the thread's run lease (`stop_requested_at`) and sends a
 * PostgreSQL NOTIFY; every replica LISTENs on its own connection and aborts the run it holds, and
 * also polls the leases of its running answers in case a notification was lost (a listener that
 * was reconnecting). The aborted run ends like a disconnect: the partial answer is stored with the
 * cancellation marker and the stream ends.
 *
 * A database that takes a single connection (the embedded one) is used by a single process, so
 * there the local registry alone is exact: no listener, no polling. It must never hold a pooled
 * connection: the listener has a connection of its own.
 */
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Client, type Notification } from 'pg';
import { Repository } from 'typeorm';
import { ThreadRunEntity } from 'src/chatkit/thread-run.entity';
import { databaseConfig, type DatabaseConfig } from 'src/config/database.config';

export const STOP_CHANNEL = 'chatkit_run_stop';
/** How often running answers check their lease for a stop: listener down, listener up. */
const POLL_WITHOUT_LISTENER_MS = 1_000;
const POLL_WITH_LISTENER_MS = 5_000;
const RECONNECT_MS = 2_000;
/** How long shutdown waits for the listener's goodbye before it drops the connection. */
const CLOSE_WAIT_MS = 2_000;

export class RunStoppedError extends Error {
  constructor() {
    super('the answer was stopped by a stop request');
    this.name = 'RunStoppedError';
  }
}

export interface WatchedRun {
  /** Aborts (with RunStoppedError) when a stop request for the thread arrives. */
  signal: AbortSignal;
  /** The run is over: stop watching it. */
  done(): void;
}

@Injectable()
export class RunStops implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RunStops');
  private readonly running = new Map<string, Set<AbortController>>();
  private listener?: Client;
  private listening = false;
  private closed = false;
  private poll?: NodeJS.Timeout;
  private lastPoll = 0;
  private polling = false;

  constructor(
    @InjectRepository(ThreadRunEntity) private readonly runs: Repository<ThreadRunEntity>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  /** Several processes can share the database only when it takes several connections. */
  private get shared(): boolean {
    return this.config.poolSize > 1;
  }

  onApplicationBootstrap(): void {
    if (this.shared) void this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    const listener = this.listener;
    if (!listener) return;
    // A connection that stopped answering (its packets dropped on the way) never acknowledges the
    // goodbye, and end() would wait for ever: after a moment the socket is dropped instead, so a
    // shutdown during a network fault still ends.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      listener.end().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!ended) listener.connection.stream.destroy();
  }

  /** Registers a run on this replica; a stop request for its thread aborts it. */
  watch(threadId: string): WatchedRun {
    const controller = new AbortController();
    let runs = this.running.get(threadId);
    if (!runs) this.running.set(threadId, (runs = new Set()));
    runs.add(controller);
    if (this.shared && !this.poll) {
      this.poll = setInterval(() => void this.pollLeases(), POLL_WITHOUT_LISTENER_MS);
      this.poll.unref();
    }
    return {
      signal: controller.signal,
      done: () => {
        runs.delete(controller);
        if (!runs.size && this.running.get(threadId) === runs) this.running.delete(threadId);
        if (!this.running.size && this.poll) {
          clearInterval(this.poll);
          this.poll = undefined;
        }
      },
    };
  }

  /**
   * Stops the answer running on the thread, wherever it runs. The caller has checked that the
   * thread is the user's. Returns whether an answer was running.
   */
  async request(threadId: string): Promise<boolean> {
    const here = this.abortLocal(threadId);
    // Written out: marking the live lease and notifying every replica is one statement (NOTIFY is
    // delivered when it commits). A lease past its expiry belongs to a dead replica: nothing runs.
    // (A SELECT over the CTE, so that the driver hands back the rows, not an update count.)
    const rows: unknown[] = await this.runs.query(
      `WITH marked AS (
         UPDATE thread_runs SET stop_requested_at = now()
          WHERE thread_id = $1 AND expires_at > now() RETURNING thread_id)
       SELECT ${this.shared ? `pg_notify('${STOP_CHANNEL}', thread_id)` : 'thread_id'} FROM marked`,
      [threadId],
    );
    return here || rows.length > 0;
  }

  private abortLocal(threadId: string): boolean {
    const runs = this.running.get(threadId);
    if (!runs?.size) return false;
    for (const controller of runs) controller.abort(new RunStoppedError());
    return true;
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new Client({
      connectionString: this.config.url,
      ssl: this.config.ssl ? { rejectUnauthorized: true } : undefined,
      connectionTimeoutMillis: this.config.connectTimeoutMs,
    });
    this.listener = client;
    const retry = () => {
      if (this.listener !== client) return;
      this.listening = false;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      setTimeout(() => void this.listen(), RECONNECT_MS).unref();
    };
    client.on('error', (err) => {
      this.logger.warn(`stop listener lost its connection (${err.message}); polling until it is back`);
      retry();
    });
    client.on('end', retry);
    client.on('notification', (n: Notification) => {
      if (n.channel === STOP_CHANNEL && n.payload) this.abortLocal(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${STOP_CHANNEL}`);
      this.listening = true;
      // Anything requested while the listener was away.
      void this.pollLeases(true);
    } catch {
      retry();
    }
  }

  /** The fallback: checks the leases of this replica's running answers for a stop request. */
  private async pollLeases(force = false): Promise<void> {
    if (this.polling || !this.running.size) return;
    const now = Date.now();
    if (!force && this.listening && now - this.lastPoll < POLL_WITH_LISTENER_MS) return;
    this.polling = true;
    this.lastPoll = now;
    try {
      // A request older than the lease's acquisition was for an earlier run of the thread.
      const rows: Array<{ thread_id: string }> = await this.runs.query(
        `SELECT thread_id FROM thread_runs
          WHERE thread_id = ANY($1) AND stop_requested_at IS NOT NULL AND stop_requested_at >= acquired_at`,
        [[...this.running.keys()]],
      );
      for (const row of rows) this.abortLocal(row.thread_id);
    } catch {
      // The database is away: the run itself will notice; the next poll tries again.
    } finally {
      this.polling = false;
    }
  }
}
