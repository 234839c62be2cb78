import { exec } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { FleetTargetsInvalidError, InvalidArgumentError } from '../errors.js';

/** One database of a fleet: a name for reports and a connection URL (never printed with its password). */
export interface FleetTarget {
  name: string;
  url: string;
  /**
   * A standby of this database to measure replica lag on during its backfill (what
   * `advance --replica-url` is for one database); never printed.
   */
  replicaUrl?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/;
const ENV_REF = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a targets document: JSON or YAML (JSON is YAML), either a list of `{ name, url, replicaUrl? }`
 * or `{ targets: [...] }`. `${VAR}` in a URL is replaced from `env`. Every problem is reported at once.
 */
export function parseTargets(text: string, source: string, env: NodeJS.ProcessEnv): FleetTarget[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new FleetTargetsInvalidError(source, [`not JSON or YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  const list = Array.isArray(doc)
    ? doc
    : doc && typeof doc === 'object' && 'targets' in doc
      ? (doc as { targets: unknown }).targets
      : undefined;
  const where = Array.isArray(doc) ? '' : 'targets';
  if (!Array.isArray(list)) throw new FleetTargetsInvalidError(source, ['expected a list of { name, url } or { targets: [...] }']);
  if (doc && !Array.isArray(doc)) {
    const extra = Object.keys(doc as object).filter((k) => k !== 'targets');
    if (extra.length)
      throw new FleetTargetsInvalidError(
        source,
        extra.map((k) => `${k}: unknown key (only "targets")`),
      );
  }
  const problems: string[] = [];
  const targets: FleetTarget[] = [];
  const seen = new Map<string, number>();
  list.forEach((item: unknown, i) => {
    const at = `${where}[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${at}: expected an object { name, url }`);
      return;
    }
    const { name, url, replicaUrl, ...rest } = item as Record<string, unknown>;
    for (const k of Object.keys(rest)) problems.push(`${at}.${k}: unknown key (only name, url, replicaUrl)`);
    if (typeof name !== 'string' || !NAME.test(name)) {
      problems.push(`${at}.name: expected a name of letters, digits and . _ : @ / - (at most 128), got ${JSON.stringify(name ?? null)}`);
    } else if (seen.has(name)) {
      problems.push(`${at}.name: "${name}" is also the name of [${seen.get(name)}]; names must be unique`);
    } else seen.set(name, i);
    const expanded = connectionUrl(url, `${at}.url`, env, problems);
    const replica = replicaUrl === undefined ? undefined : connectionUrl(replicaUrl, `${at}.replicaUrl`, env, problems);
    if (typeof name === 'string' && expanded !== null && replica !== null)
      targets.push({ name, url: expanded, ...(replica === undefined ? {} : { replicaUrl: replica }) });
  });
  if (!list.length) problems.push('no targets');
  if (problems.length) throw new FleetTargetsInvalidError(source, problems);
  return targets;
}

/** A target's connection URL with `${VAR}` replaced from `env`; null (and its problems pushed) when it is not one. */
function connectionUrl(value: unknown, at: string, env: NodeJS.ProcessEnv, problems: string[]): string | null {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${at}: expected a postgres:// URL`);
    return null;
  }
  const expanded = value.replace(ENV_REF, (ref, variable: string) => {
    if (!ENV_NAME.test(variable)) problems.push(`${at}: "${ref}" is not a variable reference (\${NAME})`);
    else if (env[variable] === undefined) problems.push(`${at}: environment variable ${variable} is not set`);
    else return env[variable]!;
    return ref;
  });
  if (!/^postgres(ql)?:\/\//.test(expanded)) problems.push(`${at}: expected a postgres:// or postgresql:// URL`);
  else {
    try {
      new URL(expanded);
    } catch {
      problems.push(`${at}: not a valid URL`);
    }
  }
  return expanded;
}

/** Reads the targets from a file, or from the stdout of a shell command (discovery from a registry). */
export async function loadTargets(from: { file?: string; command?: string; env?: NodeJS.ProcessEnv }): Promise<FleetTarget[]> {
  const env = from.env ?? process.env;
  if (from.file && from.command) throw new InvalidArgumentError('give --targets or --targets-command, not both');
  if (from.file) {
    const text = await readFile(from.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new FleetTargetsInvalidError(from.file!, [`cannot read it: ${error.code ?? error.message}`]);
    });
    return parseTargets(text, from.file, env);
  }
  if (from.command) {
    const source = `from command "${from.command}"`;
    const stdout = await new Promise<string>((resolve, reject) => {
      exec(from.command!, { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
        if (error)
          reject(
            new FleetTargetsInvalidError(source, [
              `the command failed (${error.code ?? error.signal ?? error.message})${err.trim() ? `: ${err.trim().split('\n').slice(-3).join(' ')}` : ''}`,
            ]),
          );
        else resolve(out);
      });
    });
    return parseTargets(stdout, source, env);
  }
  throw new InvalidArgumentError('no targets given: pass --targets <file> or --targets-command <cmd>');
}

/** The URL without its password (user, host, port, database and parameters kept). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, 'REDACTED');
    return u.toString();
  } catch {
    return url.replace(/(password\s*=\s*)\S+/gi, '$1REDACTED');
  }
}

/** Removes the targets' passwords from any text that might echo a URL (error messages, logs). */
export function scrubber(targets: readonly FleetTarget[]): (text: string) => string {
  const secrets = new Set<string>();
  for (const url of targets.flatMap((t) => (t.replicaUrl ? [t.url, t.replicaUrl] : [t.url]))) {
    try {
      const u = new URL(url);
      if (u.password) {
        secrets.add(u.password);
        secrets.add(decodeURIComponent(u.password));
      }
      for (const [k, v] of u.searchParams) if (/pass/i.test(k) && v) secrets.add(v);
    } catch {
      /* parseTargets accepted only URLs */
    }
  }
  const list = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((out, s) => out.split(s).join('REDACTED'), text);
}

/** `--shard i/n`: shard i (1-based) of n. */
export interface Shard {
  index: number;
  count: number;
}

export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1) || !(index >= 1) || index > count)
    throw new InvalidArgumentError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), got "${value}"`);
  return { index, count };
}

function weight(name: string, shard: number): bigint {
  return createHash('sha256').update(`${shard}\0${name}`).digest().readBigUInt64BE(0);
}

/**
 * The shard (1-based) a target belongs to: rendezvous hashing of its name. It depends on the name
 * and n only, so adding or removing a target moves no other, and going from n to n+1 shards moves
 * about 1/(n+1) of the targets.
 */
export function shardOf(name: string, count: number): number {
  let best = 1;
  let bestWeight = -1n;
  for (let i = 1; i <= count; i++) {
    const w = weight(name, i);
    if (w > bestWeight) {
      best = i;
      bestWeight = w;
    }
  }
  return best;
}

export function inShard(targets: readonly FleetTarget[], shard: Shard | undefined): FleetTarget[] {
  return shard ? targets.filter((t) => shardOf(t.name, shard.count) === shard.index) : [...targets];
}
