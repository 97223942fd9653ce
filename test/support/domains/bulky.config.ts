/**
 * A test aggregate that grows as large as the engine lets it: its state takes every chunk it
 * is given, and each command can decide a large event. It drives an aggregate to its bounds.
 */
import { z } from 'zod';
import { defineAggregate, defineConfig, defineModule, defineProjection } from 'ledgerflow';
import ledger from './ledger.config';

const bytes = z.number().int().min(1).max(64 * 1024);

export const bulky = defineAggregate({
  name: 'bulky',
  idField: 'bulkyId',
  commands: {
    /** Keeps a chunk of `bytes` characters in the state. */
    grow: z.strictObject({ bytes }),
    /** Decides an event of `bytes` characters, keeps nothing. */
    shout: z.strictObject({ bytes }),
  },
  events: {
    Grown: z.object({ chunk: z.string() }),
    Shouted: z.object({ noise: z.string() }),
  },
  errorCodes: [],
  initialState: () => ({ chunks: [] as string[] }),
  decide(_state, command) {
    return command.type === 'grow'
      ? [{ type: 'Grown', payload: { chunk: 'g'.repeat(command.payload.bytes) } }]
      : [{ type: 'Shouted', payload: { noise: 's'.repeat(command.payload.bytes) } }];
  },
  evolve: (state, event) => (event.type === 'Grown' ? { chunks: [...state.chunks, event.payload.chunk] } : state),
  describe: (state) => `**Bulky** — ${state.chunks.length} chunk(s)`,
});

/** Its read model: how many chunks it holds (the API's `bulky.get`). */
const bulkyProjection = defineProjection<{ bulkyId: string; chunks: number; version: number }, typeof bulky.events>({
  name: 'bulky',
  version: 1,
  source: bulky,
  evolve: (current, event) => ({ bulkyId: event.aggregateId, chunks: (current?.chunks ?? 0) + (event.type === 'Grown' ? 1 : 0), version: event.version }),
});

/** The engine's test domain with the bulky aggregate beside its own. */
export default defineConfig({ ...ledger, modules: { ...ledger.modules, bulky: defineModule({ aggregate: bulky, readModel: bulkyProjection }) } });
