// zod's setting for commands that parse each schema once or twice and exit (everything but `serve`).
import { z } from 'zod';

/**
 * zod compiles a fast parser (`new Function`) for an object schema on its first parse, which costs more than one
 * parse saves (the environment check ~15 ms compiled, ~6 ms without, measured). zod decides it per schema when
 * the schema is built, so this must run before any module that builds schemas is imported (config/load.ts
 * builds the config's). The server keeps the compiled parsers for the API's request validation.
 */
export function parseWithoutCompiling(): void {
  z.config({ jitless: true });
}
