import { describe, expect, test } from 'vitest';
import {
  FleetTargetsInvalidError,
  inShard,
  parseShard,
  parseTargets,
  parseWaves,
  redactUrl,
  shardOf,
  splitWaves,
} from '../../src/index.js';
import { scrubber } from '../../src/fleet/targets.js';

const names = (n: number, prefix = 'db') =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, url: `postgres://u:p@h/${prefix}${i}` }));

describe('fleet targets', () => {
  test('JSON list, YAML { targets }, ${VAR} from the environment', () => {
    expect(parseTargets('[{"name":"a","url":"postgres://u:${PW}@h:5432/a"}]', 'f', { PW: 's3cret' })).toEqual([
      { name: 'a', url: 'postgres://u:s3cret@h:5432/a' },
    ]);
    expect(parseTargets('targets:\n  - name: b\n    url: postgresql://h/b\n', 'f', {})).toEqual([{ name: 'b', url: 'postgresql://h/b' }]);
  });

  test('every problem at once: duplicate names, unset variables, unknown keys, not a URL', () => {
    const text = JSON.stringify([
      { name: 'a', url: 'postgres://h/a' },
      { name: 'a', url: 'postgres://u:${NOPE}@h/b' },
      { name: 'c', url: 'mysql://h/c', port: 1 },
      { url: 'postgres://h/d' },
    ]);
    let error: unknown;
    try {
      parseTargets(text, 'targets.json', {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FleetTargetsInvalidError);
    expect((error as FleetTargetsInvalidError).problems).toEqual([
      '[1].name: "a" is also the name of [0]; names must be unique',
      '[1].url: environment variable NOPE is not set',
      '[2].port: unknown key (only name, url, replicaUrl)',
      '[2].url: expected a postgres:// or postgresql:// URL',
      '[3].name: expected a name of letters, digits and . _ : @ / - (at most 128), got null',
    ]);
    expect(() => parseTargets('[]', 'f', {})).toThrow(/no targets/);
    expect(() => parseTargets('{ "hosts": [] }', 'f', {})).toThrow(/expected a list/);
  });

  test('replicaUrl: optional, ${VAR} from the environment, checked like url; its password is scrubbed too', () => {
    const text = JSON.stringify([
      { name: 'a', url: 'postgres://u:pw-a@h/a', replicaUrl: 'postgres://u:${REPLICA_PW}@replica-a/a' },
      { name: 'b', url: 'postgres://u:pw-b@h/b' },
    ]);
    const targets = parseTargets(text, 'f', { REPLICA_PW: 'r3plica' });
    expect(targets).toEqual([
      { name: 'a', url: 'postgres://u:pw-a@h/a', replicaUrl: 'postgres://u:r3plica@replica-a/a' },
      { name: 'b', url: 'postgres://u:pw-b@h/b' },
    ]);
    expect(scrubber(targets)('cannot connect to postgres://u:r3plica@replica-a/a')).toBe(
      'cannot connect to postgres://u:REDACTED@replica-a/a',
    );

    let error: unknown;
    try {
      parseTargets(
        JSON.stringify([
          { name: 'a', url: 'postgres://h/a', replicaUrl: 'http://replica/a' },
          { name: 'b', url: 'postgres://h/b', replicaUrl: 'postgres://u:${NOPE}@r/b' },
          { name: 'c', url: 'postgres://h/c', replicaUrl: 5 },
        ]),
        'targets.json',
        {},
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FleetTargetsInvalidError);
    expect((error as FleetTargetsInvalidError).problems).toEqual([
      '[0].replicaUrl: expected a postgres:// or postgresql:// URL',
      '[1].replicaUrl: environment variable NOPE is not set',
      '[2].replicaUrl: expected a postgres:// URL',
    ]);
  });

  test('redaction removes the password and password parameters, keeps the rest', () => {
    expect(redactUrl('postgres://app:s%40cret@db.example:6432/shop?sslmode=require')).toBe(
      'postgres://app@db.example:6432/shop?sslmode=require',
    );
    expect(redactUrl('postgres://app@h/x?password=abc')).toBe('postgres://app@h/x?password=REDACTED');
  });
});

describe('fleet shards and waves', () => {
  test('--shard i/n puts every target in exactly one shard', () => {
    const all = names(200);
    for (const n of [1, 2, 3, 7]) {
      const shards = Array.from({ length: n }, (_, i) => inShard(all, { index: i + 1, count: n }).map((t) => t.name));
      expect(shards.flat().sort()).toEqual(all.map((t) => t.name).sort());
      expect(new Set(shards.flat()).size).toBe(all.length);
      // Not all in one shard: the hash spreads them.
      if (n > 1) expect(Math.min(...shards.map((s) => s.length))).toBeGreaterThan(0);
    }
    expect(() => parseShard('0/3')).toThrow(/1 ≤ i ≤ n/);
    expect(() => parseShard('4/3')).toThrow(/1 ≤ i ≤ n/);
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
  });

  test('a target keeps its shard when others are added, and few move when a shard is added', () => {
    const before = names(100);
    const after = [...before, ...names(20, 'new')];
    const moved = before.filter((t) => shardOf(t.name, 4) !== shardOf(t.name, 5)).length;
    // Rendezvous hashing moves only the targets the new shard wins, about 1/5, never most of them.
    expect(moved).toBeLessThan(before.length / 2);
    expect(after.slice(0, 100).map((t) => shardOf(t.name, 4))).toEqual(before.map((t) => shardOf(t.name, 4)));
  });

  test('--waves are cumulative sizes; the last must be 100%', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    expect(splitWaves(items, parseWaves('1,10%,100%')).map((w) => w.length)).toEqual([1, 1, 18]);
    expect(splitWaves(items, parseWaves('1,100%')).map((w) => w.length)).toEqual([1, 19]);
    expect(splitWaves(items.slice(0, 1), parseWaves('1,10%,100%')).map((w) => w.length)).toEqual([1]);
    expect(splitWaves([], parseWaves('100%'))).toEqual([]);
    expect(() => parseWaves('1,50%')).toThrow(/last wave must be 100%/);
    expect(() => parseWaves('0,100%')).toThrow(/"0"/);
  });
});
