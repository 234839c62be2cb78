/**
 * `npm run bench`: the backfill benchmark. It arrives with the backfill-engine issue; until then
 * this only says so and exits 0, so scripts that call it keep working. See benchmarks/README.md
 * for what it will compare.
 */
process.stdout.write(
  [
    'pgshift benchmarks: not implemented yet.',
    'The backfill benchmark comes with the backfill-engine issue; benchmarks/README.md lists what it',
    'will compare. Results will be written to benchmarks/results/.',
    '',
  ].join('\n'),
);
