import { Standby, standbyFromEnv } from '../support/standby.js';

const found = standbyFromEnv();
/** The standby, or null with the reason the tests skip (never under CI=true: standbyFromEnv throws there). */
export const standby = 'missing' in found ? null : new Standby(found.url, found.dataDir, found.bin);
export const skipReason = 'missing' in found ? ` (SKIPPED: ${found.missing})` : '';
