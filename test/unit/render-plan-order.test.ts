import { describe, expect, test } from 'vitest';
import { stepsFor } from '../../src/operations/index.js';
import type { Operation } from '../../src/plan/model.js';
import { renderPlan } from '../../src/render-plan.js';

describe('plan --sql lists each phase in the order it runs', () => {
  test("a later operation's CREATE INDEX CONCURRENTLY is shown before an earlier operation's phase transaction", () => {
    const ops: Operation[] = [
      { kind: 'addCheck', schema: 'public', table: 't', name: 'ck', check: 'a > 0' },
      { kind: 'createIndex', schema: 'public', table: 't', name: 'ix', columns: ['a'], unique: false, using: 'btree' },
    ];
    const facts = [{ key: { source: 't_pkey', kind: 'primary key', columns: [{ name: 'id', type: 'bigint' }] } }, { existing: 'none' }];
    const steps = ops.map((op, i) => stepsFor('20261212_order', op, i, facts[i]));
    const expand = renderPlan(steps).find((p) => p.phase === 'expand')!.statements;
    expect(expand.map((s) => [s.id, s.transaction])).toEqual([
      ['1.expand.create-index', 'none'],
      ['0.expand.add-check', 'phase'],
    ]);
  });
});
