import { describe, expect, test } from 'vitest';
import { lintSources } from '../../src/lint/engine.js';
import { ruleInfo, type LintRuleId } from '../../src/lint/rules.js';
import { SQUAWK_EXAMPLES, SQUAWK_UNDOCUMENTED } from '../fixtures/lint/squawk-examples.js';

async function rules(sql: string): Promise<string[]> {
  return (await lintSources([{ name: 'example.sql', text: sql }])).findings.map((f) => f.rule);
}

describe('squawk’s documented examples: pgshift flags each with the corresponding rule, or says why not', () => {
  test.each(SQUAWK_EXAMPLES.map((e) => [e.squawk, e.sql, e]))('%s: %s', async (_squawk, sql, e) => {
    const found = await rules(sql);
    if (e.ours) expect(found).toContain(e.ours);
    else {
      // No pgshift rule answering to this squawk rule flags it, and the difference is explained.
      expect(e.why).toBeTruthy();
      expect(found.filter((r) => ruleInfo(r as LintRuleId).squawk.includes(e.squawk))).toEqual([]);
    }
  });

  test.each(SQUAWK_UNDOCUMENTED.map((e) => [e.squawk, e.sql, e]))('%s (no documented statement): %s', async (_squawk, sql, e) => {
    expect(await rules(sql)).toContain(e.ours);
  });

  test('the agreement count covers every documented example', async () => {
    let agree = 0;
    for (const e of SQUAWK_EXAMPLES) if (e.ours && (await rules(e.sql)).includes(e.ours)) agree += 1;
    const expected = SQUAWK_EXAMPLES.filter((e) => e.ours).length;
    expect(agree).toBe(expected);
    console.info(`squawk documented examples flagged by the corresponding pgshift rule: ${agree} of ${SQUAWK_EXAMPLES.length}`);
  });
});
