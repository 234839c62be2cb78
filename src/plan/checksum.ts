import { createHash } from 'node:crypto';
import type { Migration } from './model.js';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Checksum of the normalised plan (defaults applied, keys sorted), so the same plan written in
 * JSON or TypeScript, or reformatted, has the same checksum. The description is not part of it.
 */
export function checksumOf(migration: Migration): string {
  const { description: _description, ...rest } = migration;
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}
