/**
 * Preloaded into the workflow sandbox once per worker (Temporal's `preloadModules`), so zod's
 * code is evaluated once rather than for every workflow. Temporal freezes what is preloaded;
 * zod fills some of its module state on first use (its default locale, whether `eval` is
 * allowed), so that first use happens here, before the freeze.
 */
import { z } from 'zod';

z.object({ warm: z.string().min(1) }).safeParse({ warm: '' });
