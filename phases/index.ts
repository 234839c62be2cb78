import type { Phase } from '../src/plan/model.js';
import { backfill } from './backfill.js';
import type { PhaseContext, PhaseDetails } from './context.js';
import { contract, type ContractOptions } from './contract.js';
import { dualWrite } from './dual-write.js';
import { expand } from './expand.js';

export type PhaseExecutor = (ctx: PhaseContext, options: ContractOptions) => Promise<PhaseDetails>;

/** Exhaustive: a phase without an executor fails to compile. */
export const PHASE_EXECUTORS: Record<Phase, PhaseExecutor> = {
  expand: (ctx) => expand(ctx),
  'dual-write': (ctx) => dualWrite(ctx),
  backfill: (ctx) => backfill(ctx),
  contract: (ctx, options) => contract(ctx, options),
};
