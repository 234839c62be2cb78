import pg from 'pg';
import { InvalidArgumentError } from '../errors.js';
import { lintSources, type LintReport } from './engine.js';
import { readSources } from './source.js';

/** The tools whose migrations run inside one transaction per file (what `--tool` sets `--assume-transaction` to). */
export const SOURCE_TOOLS = {
  plain: false,
  // `alembic upgrade --sql` writes BEGIN; … COMMIT; into the transcript itself.
  alembic: false,
  prisma: false,
  flyway: true,
  django: true,
  rails: true,
  'node-pg-migrate': true,
} as const;
export type SourceTool = keyof typeof SOURCE_TOOLS;

export interface RunLintOptions {
  inputs: readonly string[];
  stdin: () => Promise<string>;
  assumeTransaction?: boolean;
  tool?: SourceTool;
  databaseUrl?: string;
  bigTableBytes?: number;
}

export interface RunLintResult {
  report: LintReport;
  /** File name → text, for the human format to underline statements. */
  sources: Map<string, string>;
}

/** Reads, parses and lints the inputs; with a database URL, against its catalog (read only: the rewrite probe runs on rolled-back temporary copies). */
export async function runLint(options: RunLintOptions): Promise<RunLintResult> {
  if (!options.inputs.length) throw new InvalidArgumentError('nothing to lint: give SQL files, glob patterns, or - for standard input');
  const sources = await readSources(options.inputs, options.stdin);
  const assumeTransaction = options.assumeTransaction ?? (options.tool ? SOURCE_TOOLS[options.tool] : false);
  const common = { assumeTransaction, ...(options.bigTableBytes !== undefined ? { bigTableBytes: options.bigTableBytes } : {}) };
  let report: LintReport;
  if (options.databaseUrl) {
    const client = new pg.Client({ connectionString: options.databaseUrl, application_name: 'pgshift lint' });
    await client.connect();
    try {
      report = await lintSources(sources, { ...common, db: client });
    } finally {
      await client.end();
    }
  } else report = await lintSources(sources, common);
  return { report, sources: new Map(sources.map((s) => [s.name, s.text])) };
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(bytes|b|kb|mb|gb|tb)?$/i;
const UNITS: Record<string, number> = { bytes: 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** `10MB`, `500kB`, `1GB` or a number of bytes, as PostgreSQL's pg_size_pretty writes them (1 kB = 1024 bytes). */
export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`not a size: ${JSON.stringify(text)} (e.g. 10MB, 500kB, 1GB, or bytes)`);
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'bytes').toLowerCase()]!);
}
