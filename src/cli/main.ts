#!/usr/bin/env node
import { runCli } from './program.js';

const controller = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\npgshift: ${sig}: stopping after the current batch (send again to exit now)\n`);
    controller.abort();
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
