import net from 'node:net';
import { afterAll, describe, test } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { skipReason, standby } from './env.js';
import { expectFinishedAndReplicated, expectHeld, prepare, progress } from './scenario.js';
import { until } from '../support/wait.js';

/** A loopback port nobody listens on (taken and released at once). */
function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!standby)(`a standby cut off from its primary (primary_conninfo pointing nowhere)${skipReason}`, () => {
  const db = useDatabase();
  const id = '20261204_cut_off';
  let restore: (() => Promise<void>) | null = null;
  afterAll(async () => {
    await restore?.();
  });

  test('with --replica-url: holds naming why (not streaming); resumes once it streams again', async () => {
    const sb = standby!;
    const dir = await prepare(db, sb, id);
    const run = spawnCli(['advance', '--batch-size', '300', '--batch-delay', '50', '--replica-url', sb.urlFor(db.name)], {
      url: db.url,
      dir,
    });
    await until(async () => Number((await progress(db, id))?.batches ?? 0) >= 2, 'two batches', 120_000);

    restore = await sb.cutOff(await unusedPort());
    await expectHeld(db, dir, id, /standby is not streaming from the primary/);

    await restore();
    restore = null;
    await expectFinishedAndReplicated(db, sb, id, run.done);
  });
});
