import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// A plan file imports its helpers from 'pgshift'. It must get the pgshift that is loading it: the
// project may not depend on pgshift at all (npx, a global install, a plan directory outside any
// project), or on another copy of it. So while plans load, the bare specifier 'pgshift' resolves
// to this package's entry point, for `import` and for `require` alike.

/** This package's entry point: dist/src/index.js when built, src/index.ts when run from source. */
function selfEntry(): string {
  const js = fileURLToPath(new URL('../index.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('../index.ts', import.meta.url));
}

const SPECIFIER = 'pgshift';

// Node's asynchronous loader hooks run in their own thread, from a module of their own; a data: URL
// keeps that module inside this file, so it works from dist/ and from the TypeScript sources alike.
const ESM_HOOKS = `
let target;
export function initialize(data) { target = data.url; }
export async function resolve(specifier, context, next) {
  if (specifier === ${JSON.stringify(SPECIFIER)}) return { url: target, shortCircuit: true };
  return next(specifier, context);
}`;

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
interface SyncHooks {
  registerHooks?: (hooks: {
    resolve: (
      specifier: string,
      context: unknown,
      next: (s: string, c: unknown) => { url: string },
    ) => { url: string; shortCircuit?: boolean };
  }) => unknown;
}

let installed = false;

/** Makes `import … from 'pgshift'` and `require('pgshift')` resolve to this pgshift; once per process. */
export function resolvePgshiftToSelf(): void {
  if (installed) return;
  installed = true;
  const file = selfEntry();
  const url = pathToFileURL(file).href;
  const sync = module as unknown as SyncHooks;
  if (typeof sync.registerHooks === 'function') {
    // Node 22.15+ / 23.5+: one synchronous hook for import and require.
    sync.registerHooks({
      resolve: (specifier, context, next) => (specifier === SPECIFIER ? { url, shortCircuit: true } : next(specifier, context)),
    });
    return;
  }
  // Node 20.19 to 22.14: the asynchronous hooks cover import; require() (a CommonJS plan, or a
  // TypeScript plan in a CommonJS project) goes through Module._resolveFilename, which is the
  // only place to redirect it on these versions.
  module.register(`data:text/javascript,${encodeURIComponent(ESM_HOOKS)}`, { data: { url } });
  const cjs = module as unknown as { _resolveFilename: ResolveFilename };
  const original = cjs._resolveFilename;
  cjs._resolveFilename = function (request, parent, isMain, options) {
    return request === SPECIFIER ? file : original.call(this, request, parent, isMain, options);
  };
}
