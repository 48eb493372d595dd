import { pino, type Logger } from 'pino';

/**
 * The one logger: JSON lines on stderr (stdout stays free for `--json` results), fields first, secrets
 * redacted wherever they appear under these keys.
 */
export const log: Logger = pino(
  {
    level: process.env.PRESCALE_LOG_LEVEL ?? 'info',
    base: { app: 'prescale' },
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'secretAccessKey', '*.secretAccessKey', 'credentials'],
      censor: '[redacted]',
    },
  },
  pino.destination(2),
);

export type { Logger };
