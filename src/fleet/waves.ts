import { InvalidArgumentError } from '../errors.js';

/** One entry of `--waves`: how many targets have been reached once this wave is done. */
export type WaveSize = { count: number } | { percent: number };

export const DEFAULT_WAVES: readonly WaveSize[] = [{ count: 1 }, { percent: 100 }];

/**
 * `--waves 1,10%,100%`: cumulative sizes, so "1" is one canary, "10%" takes the fleet to a tenth
 * (canary included), "100%" to all of it. Sizes must grow and the last must be 100%.
 */
export function parseWaves(value: string): WaveSize[] {
  const parts = value.split(',').map((p) => p.trim());
  const sizes: WaveSize[] = [];
  const problems: string[] = [];
  for (const p of parts) {
    const m = /^(\d+)(%?)$/.exec(p);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n < 1 || (m[2] && n > 100)) problems.push(`"${p}" is not a number of targets (≥ 1) or a percentage (1% to 100%)`);
    else sizes.push(m[2] ? { percent: n } : { count: n });
  }
  const last = sizes[sizes.length - 1];
  if (!problems.length && !(last && 'percent' in last && last.percent === 100))
    problems.push('the last wave must be 100%, so that every target is in a wave');
  if (problems.length) throw new InvalidArgumentError(`--waves ${value}: ${problems.join('; ')}`);
  return sizes;
}

/** Splits `items` into waves by cumulative sizes; waves that would be empty are left out. */
export function splitWaves<T>(items: readonly T[], sizes: readonly WaveSize[]): T[][] {
  const waves: T[][] = [];
  let done = 0;
  for (const size of sizes) {
    const upTo = Math.min(items.length, 'count' in size ? size.count : Math.ceil((size.percent * items.length) / 100));
    if (upTo > done) {
      waves.push(items.slice(done, upTo));
      done = upTo;
    }
  }
  if (done < items.length) waves.push(items.slice(done));
  return waves;
}
