/**
 * `npx tsx benchmarks/offline-plan.ts [tables] [trials]`: what `plan --schema-file` costs. For each
 * trial, in a fresh process: importing pgshift (which must not load PGlite), then loading a
 * generated schema-only dump of `tables` tables (PGlite start included) and planning a rename on
 * it. Prints each trial's figures and the medians; no database needed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function dump(tables: number): string {
  const lines = ['\\restrict bench', "SELECT pg_catalog.set_config('search_path', '', false);", 'SET transaction_timeout = 0;'];
  for (let i = 0; i < tables; i++) {
    lines.push(`CREATE TABLE public.t${i} (id bigint NOT NULL, email text, name text, created timestamptz DEFAULT now());`);
    lines.push(`ALTER TABLE public.t${i} OWNER TO app;`);
    lines.push(`ALTER TABLE ONLY public.t${i} ADD CONSTRAINT t${i}_pkey PRIMARY KEY (id);`);
    lines.push(`CREATE INDEX t${i}_email_idx ON public.t${i} USING btree (email);`);
  }
  lines.push('\\unrestrict bench');
  return lines.join('\n');
}

const CHILD = `
const t0 = performance.now();
const api = await import(${JSON.stringify(path.join(ROOT, 'src/index.ts'))});
const imported = performance.now();
await api.loadParser();
const t1 = performance.now();
const plan = await api.planOffline('bench', { schemaFile: process.env.FILE, migrations: [{ id: 'bench', operations: [{ kind: 'renameColumn', schema: 'public', table: 't0', from: 'email', to: 'email_address' }] }] });
const t2 = performance.now();
process.stdout.write(JSON.stringify({ importMs: imported - t0, planMs: t2 - t1, statements: plan.phases.flatMap((p) => p.statements).length }));
`;

const tables = Number(process.argv[2] ?? 50);
const trials = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-bench-offline-'));
const file = path.join(dir, 'schema.sql');
writeFileSync(file, dump(tables));
const script = path.join(dir, 'child.mts');
writeFileSync(script, CHILD);
const results: { importMs: number; planMs: number }[] = [];
for (let i = 0; i < trials; i++) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, FILE: file },
    encoding: 'utf8',
  });
  const r = JSON.parse(out) as { importMs: number; planMs: number };
  results.push(r);
  console.log(`trial ${i + 1}: import pgshift ${r.importMs.toFixed(0)} ms; load ${tables}-table dump and plan ${r.planMs.toFixed(0)} ms`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `median of ${trials}: import ${median(results.map((r) => r.importMs)).toFixed(0)} ms, offline plan ${median(results.map((r) => r.planMs)).toFixed(0)} ms (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`,
);
