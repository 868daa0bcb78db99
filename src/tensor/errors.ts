/**
 * Errors a user can cause (bad shape, flag, file, bit width ...). The CLI prints their message as one
 * line and exits non-zero; anything else is an internal error and also prints one line (with the stack
 * only under FQT_DEBUG=1).
 */
export class FqtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FqtError';
  }
}

export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new FqtError(typeof message === 'string' ? message : message());
}
