/**
 * An error about user input (a file, a config key, a flag). The CLI prints its message alone, without a
 * stack, and exits with status 2; everything else is a bug or an outside failure and exits with 1.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The message of anything thrown, for logs and wrapped errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
