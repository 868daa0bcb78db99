/** The only global mode (DESIGN.md): whether differentiable ops record themselves on the tape. */
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Run `fn` without recording any autograd nodes (evaluation, optimizer updates, statistics). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
