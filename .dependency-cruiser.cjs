/* global module */
// The import direction of pgshift (docs/architecture.md, "Layers"), checked by `npm run check`.
// Each layer may import its own and any lower layer, never a higher one:
//   core → pg access → operations and ledger → engine → app → cli
// Known violations are listed in .dependency-cruiser-known-violations.json and ignored
// (`--ignore-known`); a new one fails the check. Regenerate that file only when removing entries.

// src/sql/ident.ts and src/sql/parser.ts are core although src/sql/ is not: the quoting primitives,
// the identifier limit and PostgreSQL's parser (libpg-query) need no database, and the plan model
// and the plan loader use them.
// The plan's step types, phases and field types are core; the plan model, its builders, loader and
// validation are built from the operation registry, so they sit with the operations.
const CORE_FILES = [
  'src/(errors|version|logger)\\.ts$',
  'src/plan/(steps|phase|fields|resolve-self)\\.ts$',
  'src/sql/(ident|parser)\\.ts$',
];
const ENGINE_FILES = ['phases/', 'src/backfill/', 'src/verify\\.ts$'];

/** Layers from the bottom up, as path patterns relative to the repository root. */
const LAYERS = [
  { name: 'core', path: CORE_FILES.map((p) => `^${p}`) },
  { name: 'pg-access', path: ['^src/(db|catalog|sql)/'], pathNot: CORE_FILES.map((p) => `^${p}`) },
  { name: 'operations', path: ['^src/(operations|plan|ledger|lint)/'], pathNot: CORE_FILES.map((p) => `^${p}`) },
  { name: 'engine', path: ENGINE_FILES.map((p) => `^${p}`) },
  {
    name: 'app',
    path: ['^src/app/', '^src/fleet/', '^src/offline/', '^src/[^/]+\\.ts$'],
    pathNot: [...CORE_FILES, ...ENGINE_FILES].map((p) => `^${p}`),
  },
  { name: 'cli', path: ['^src/cli/'] },
];

const one = (patterns) => `(${patterns.join('|')})`;

const inLayer = (layer) => ({ path: one(layer.path), ...(layer.pathNot ? { pathNot: one(layer.pathNot) } : {}) });

/** For each layer and each layer above it: no import from the one to the other. */
const layerRules = LAYERS.flatMap((lower, i) =>
  LAYERS.slice(i + 1).map((higher) => ({
    name: `${lower.name}-not-to-${higher.name}`,
    severity: 'error',
    comment: `${lower.name} is below ${higher.name}, so it must not import it: move the shared piece down, or take it as a parameter.`,
    from: inLayer(lower),
    to: inLayer(higher),
  })),
);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'cli-through-public-api',
      severity: 'error',
      comment: 'The CLI is a shell over the public API: it imports src/index.ts, not the library modules behind it.',
      from: { path: '^src/cli/' },
      to: { path: '^(src|phases)/', pathNot: '^(src/cli/|src/index\\.ts$)' },
    },
    {
      name: 'commands-independent',
      severity: 'error',
      comment:
        'A command file (src/cli/commands/) does not import another: what two commands share goes in src/cli/ (options.ts, format.ts) or in the library.',
      from: { path: '^src/cli/commands/' },
      to: { path: '^src/cli/commands/' },
    },
    {
      name: 'library-not-on-tools',
      severity: 'error',
      comment: 'The shipped library (src/, phases/) never imports the demo, tools, tests, benchmarks or example plans.',
      from: { path: '^(src|phases)/' },
      to: { path: '^(tools|test|benchmarks|migrations)/' },
    },
    {
      name: 'library-not-on-dev-dependencies',
      severity: 'error',
      comment: 'A package the library imports at runtime must be in dependencies, not devDependencies (it is not installed for users).',
      from: { path: '^(src|phases)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'layer-unmapped',
      severity: 'error',
      comment: 'Every library module belongs to a layer: add the new folder to LAYERS in .dependency-cruiser.cjs and docs/architecture.md.',
      from: { path: '^(src|phases)/', pathNot: one(LAYERS.flatMap((l) => l.path)) },
      to: {},
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included: a cycle means two modules are one.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve to a file or a package.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|benchmarks/results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
