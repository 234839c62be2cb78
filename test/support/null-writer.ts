import pg from 'pg';
import type { WriterStats } from '../../tools/demo/writers.js';
import { ident } from '../../src/sql/ident.js';
import type { LifecycleWriter, TableName } from './lifecycle.js';
import { sqlName } from './lifecycle.js';

/**
 * An old app that writes NULL into `column`: INSERTs leave it out, UPDATEs set it to NULL. What a
 * setNotNull must survive until contract (its dual-write trigger fills them).
 */
export class NullWriter implements LifecycleWriter {
  readonly stats: WriterStats = { label: 'old (NULL writer)', inserts: 0, updates: 0, errors: 0, lastError: null };
  private readonly client: pg.Client;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: { url: string; table: TableName; column: string; other: string; rows: number }) {
    this.client = new pg.Client({ connectionString: options.url, application_name: 'app old (NULL writer)' });
    this.client.on('error', (error) => {
      this.stats.errors++;
      this.stats.lastError = error.message;
    });
  }

  async start() {
    await this.client.connect();
    this.running = true;
    const t = sqlName(this.options.table);
    const col = ident(this.options.column);
    this.loop = (async () => {
      while (this.running) {
        try {
          if (Math.random() < 0.5) {
            await this.client.query(`INSERT INTO ${t} (${ident(this.options.other)}) VALUES ('old@example.com')`);
            this.stats.inserts++;
          } else {
            await this.client.query(`UPDATE ${t} SET ${col} = NULL WHERE id = $1`, [1 + Math.floor(Math.random() * this.options.rows)]);
            this.stats.updates++;
          }
        } catch (error) {
          this.stats.errors++;
          this.stats.lastError = (error as Error).message;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
  }

  async waitForWrites(n: number, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.inserts + this.stats.updates < n) {
      if (!this.running) throw new Error('NULL writer is not running');
      if (Date.now() > deadline) throw new Error(`NULL writer made fewer than ${n} writes in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop() {
    if (this.running) {
      this.running = false;
      await this.loop;
      await this.client.end();
    }
    return this.stats;
  }

  /** Its values are NULLs: what must hold is that none is left, which each row asserts itself. */
  check() {
    return Promise.resolve([]);
  }
}
