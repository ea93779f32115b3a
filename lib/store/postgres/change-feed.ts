// The PostgreSQL store's change feed (lib/store/postgres/pg-index-store.ts): a
// connection of its own that creates the schema on first connect, LISTENs for
// the NOTIFY every write sends at commit ("<indexKey>:<version>") and hands it
// to the cache (./index-cache.ts), which replays the change onto its copy. On
// (re)connect the cache replays whatever it missed; a heartbeat notices a
// connection that died silently. While it is not live the store is not ready.
import pg from 'pg';
import { ShituError } from '../../errors';
import type { FeedState, StoreHealth } from '../index-store';
import { unavailable } from './errors';
import type { IndexCache } from './index-cache';
import type { PgPool } from './pool';
import { CHANGE_CHANNEL, ensureSchema } from './schema';

/** Where a lost connection's retries start and end. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 1000;
/** The feed's liveness check: every second, failing after two. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 2000;
/** (node-postgres reads query_timeout per query; its type declarations do not list it.) */
const PING = { text: 'SELECT 1', query_timeout: HEARTBEAT_TIMEOUT_MS };

export class ChangeFeed {
  /** The LISTENing connection while live. */
  private client?: pg.Client;
  private live = false;
  private closed = false;
  private liveWaiters: Array<() => void> = [];
  /** When the feed last went down (or the store started), while it is not live: the lag's floor. */
  private downSince = Date.now();
  private readonly loop: Promise<void>;
  private wake?: () => void;

  constructor(private readonly connectionString: string, private readonly db: PgPool, private readonly cache: IndexCache, private readonly reconnectWaitMs: number) {
    this.loop = this.run();
  }

  /** Resolves once connected and caught up (or rejects with ERR_STORE_UNAVAILABLE after `ms`). */
  async ready(ms = this.reconnectWaitMs): Promise<void> {
    if (this.closed) throw new ShituError('ERR_CLOSED', 'the index store is closed');
    if (this.live) return;
    let timer: NodeJS.Timeout | undefined;
    let wake!: () => void;
    const woke = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.liveWaiters.push(wake);
      timer = setTimeout(() => resolve(false), ms);
    });
    const ok = await woke;
    clearTimeout(timer);
    this.liveWaiters = this.liveWaiters.filter((w) => w !== wake);
    if (!ok || !this.live) throw unavailable(this.db.location, this.db.lastError);
  }

  /** Connect, create the schema, LISTEN, replay what was missed; on loss, again. */
  private async run(): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    let schemaReady = false;
    while (!this.closed) {
      const c = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 2000, keepAlive: true, application_name: 'shitu-change-feed' });
      let heartbeat: NodeJS.Timeout | undefined;
      const lost = new Promise<void>((resolve) => {
        c.on('error', (e) => { this.db.lastError = e; resolve(); });
        c.on('end', () => resolve());
        this.wake = resolve;
        // A connection that dies silently (no reset reaches us) would leave this
        // replica serving without the feed: a heartbeat notices within seconds.
        heartbeat = setInterval(() => {
          if (this.client === c) c.query(PING).catch((e) => { this.db.lastError = e; resolve(); });
        }, HEARTBEAT_MS);
        heartbeat.unref();
      });
      try {
        await c.connect();
        if (!schemaReady) {
          await ensureSchema(c);
          schemaReady = true;
        }
        c.on('notification', (m) => this.onNotify(m.payload));
        await c.query(`LISTEN ${CHANGE_CHANNEL}`);
        this.client = c;
        await this.cache.replayAll();
        this.live = true;
        delay = RECONNECT_MIN_MS;
        this.cache.allCaughtUp(); // replayAll brought the cached indexes up
        for (const w of this.liveWaiters.splice(0)) w();
        await lost;
      } catch (e) {
        this.db.lastError = e;
      }
      if (this.live) this.downSince = Date.now();
      this.live = false;
      this.client = undefined;
      clearInterval(heartbeat);
      // Not awaited: ending a connection whose peer vanished can wait for TCP.
      c.end().catch(() => undefined);
      if (this.closed) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(RECONNECT_MAX_MS, delay * 2);
    }
  }

  private onNotify(payload: string | undefined): void {
    const m = /^([0-9a-f-]{36}):(\d+)$/.exec(payload ?? '');
    if (m) this.cache.notified(m[1], Number(m[2]));
  }

  state(): FeedState {
    const now = Date.now();
    const oldest = Math.min(this.live ? now : Math.min(now, this.downSince), this.cache.oldestWaiting() ?? now);
    return { live: this.live, lagSeconds: (now - oldest) / 1000 };
  }

  /** Not ready while the feed is down: the database is unreachable, or this replica is not caught up. */
  health(): StoreHealth {
    if (this.closed) return { ready: false, reason: 'the index store is closed' };
    if (this.live) return { ready: true };
    const why = (this.db.lastError as Error)?.message ?? String(this.db.lastError);
    return { ready: false, reason: `the index store ${this.db.location} is unreachable or its change feed is not live: ${why}` };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    this.wake?.();
    await this.loop;
  }
}
