// The body of POST /v1/documents, validated with zod; errors name each invalid field.
import { z } from 'zod';
import { InvalidRequestError } from './errors.ts';

const relation = z.object({
  type: z.string().min(1).max(100),
  target: z.string().min(1).max(500),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
});

const requestSchema = z
  .object({
    filePath: z.string().min(1).max(4096),
    metadata: z
      .object({
        title: z.string().min(1).max(500),
        category: z.string().min(1).max(200).optional(),
        securityLevel: z.enum(['public', 'internal', 'confidential', 'restricted']).optional(),
      })
      .catchall(z.union([z.string(), z.number(), z.boolean(), z.null()])),
    textPath: z.string().min(1).max(4096).optional(),
    content: z.string().max(1024 * 1024).optional(),
    relations: z.array(relation).max(1000).optional(),
    /** The stable id of a document this ingestion replaces (a new version of it). */
    replaces: z.uuid().optional(),
  })
  .strict();

/** A validated ingestion request. */
export type IngestRequest = z.infer<typeof requestSchema>;

/** Validates a request body; throws InvalidRequestError listing every invalid field. */
export function parseIngestRequest(body: unknown): IngestRequest {
  const parsed = requestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError(
    parsed.error.issues.map((i) => ({ field: i.path.length > 0 ? i.path.join('.') : '(body)', message: i.message })),
  );
}
