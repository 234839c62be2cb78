import { InvalidArgumentError as CommanderArgError } from 'commander';
import { isPhase, PHASES, tuneSettingProblem, type Phase } from '../index.js';

/** Parsers of option values shared by the commands; each throws commander's error (exit 2) with the option's name. */

export function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CommanderArgError(`${name} must be a positive integer`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CommanderArgError(`${name} must be a non-negative integer`);
    return n;
  };
}

export function nonNegativeNumber(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new CommanderArgError(`${name} must be a number ≥ 0`);
    return n;
  };
}

/** Marks "no value" (off, auto): commander turns a parser's null into '', so this stands in. */
export const NONE = Symbol('none');
export type Maybe = number | typeof NONE;

/** A positive integer, or a word (off, auto) meaning "no value". */
export function intOr(word: string, name: string) {
  return (value: string): Maybe => (value === word ? NONE : positiveInt(name)(value));
}

/** A percentage from 1 to 100 (`20` or `20%`), or `off`. */
export function percentOr(word: string, name: string) {
  return (value: string): Maybe => {
    if (value === word) return NONE;
    const m = /^(\d+)%?$/.exec(value.trim());
    const n = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 100)
      throw new CommanderArgError(`${name} must be a percentage from 1 to 100 (e.g. 20 or 20%) or ${word}`);
    return n;
  };
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A positive size in bytes, with an optional unit (kB, MB, GB: powers of 1024), or `off`. */
export function bytesOr(word: string, name: string) {
  return (value: string): Maybe => {
    if (value === word) return NONE;
    const m = /^(\d+)\s*([kmg]?b)?$/i.exec(value.trim());
    const n = m ? Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()]! : NaN;
    if (!Number.isSafeInteger(n) || n < 1)
      throw new CommanderArgError(`${name} must be a positive size in bytes (e.g. 67108864, 64MB, 512kB) or ${word}`);
    return n;
  };
}

/** The text as a number (NaN when empty or not one, for the check to name), or `word` as NONE. */
export function numberOr(word?: string) {
  return (value: string): Maybe => (word !== undefined && value === word ? NONE : value.trim() === '' ? NaN : Number(value));
}

/**
 * A setting `pgshift tune` changes, checked by the library's own check of tuned values
 * (`tuneSettingProblem`), so the option and `Pgshift.tune` accept the same values. `parse` reads
 * the text (a number by default; `bytesOr` for sizes); its NONE (off, auto) passes as null.
 */
export function tuned(setting: string, name: string, parse: (value: string) => Maybe = numberOr()) {
  return (value: string): Maybe => {
    const n = parse(value);
    const problem = tuneSettingProblem(setting, n === NONE ? null : n, name);
    if (problem) throw new CommanderArgError(problem);
    return n;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** undefined stays undefined (not given); NONE becomes null (explicitly none). */
export function orNull(value: Maybe | undefined): number | null | undefined {
  return value === NONE ? null : value;
}

export function phaseArg(value: string): Phase {
  if (!isPhase(value)) throw new CommanderArgError(`unknown phase "${value}" (phases: ${PHASES.join(', ')})`);
  return value;
}

/** A growth factor above 1 (`1.5` or `1.5x`). */
export function growth(name: string) {
  return (value: string): number => {
    const n = Number(value.trim().replace(/[x×]$/, ''));
    if (!Number.isFinite(n) || n <= 1) throw new CommanderArgError(`${name} must be a growth factor above 1 (e.g. 1.5 or 1.5x)`);
    return n;
  };
}
