// The producer's pino logger, with every place a token could appear redacted.
import pino, { type DestinationStream, type Logger } from 'pino';

/** Paths pino censors: the auth header wherever a request is logged, and the token setting wherever config is. */
export const REDACTED_PATHS = [
  'req.headers["x-internal-token"]',
  'request.headers["x-internal-token"]',
  'headers["x-internal-token"]',
  'INTERNAL_TOKEN',
  '*.INTERNAL_TOKEN',
  'INTERNAL_TOKENS',
  '*.INTERNAL_TOKENS',
  'tokens',
  '*.tokens',
];

/** Creates the producer's logger at `level`, writing to stdout unless a destination is given (tests). */
export function createProducerLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '***' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
