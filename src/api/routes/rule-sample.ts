// The sample event of a rule's test (dry run or run), as both test routes take it.
import { z } from 'zod';

/** Each field left out takes the sample's default. */
export const sampleBody = z
  .object({
    event: z.string().optional().describe("the sample event (default: the rule's first)"),
    user: z.string().max(200).optional(),
    path: z.string().max(4096).optional().describe('virtual path (default /test/sample.txt)'),
    size: z.number().int().min(0).optional(),
    status: z.enum(['ok', 'failed']).optional(),
    protocol: z.string().max(20).optional(),
    source: z.string().max(100).optional().describe('the client address'),
  })
  .strict()
  .meta({ example: { path: '/outbound/acme/invoice.csv', size: 2048 } });
