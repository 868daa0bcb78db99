/**
 * The correctness suites run on the reference backend (the specification, DESIGN.md), whatever
 * FQT_BACKEND says: importing this module selects it for the whole test file (one process per file).
 */
import { refBackend, setBackend } from '../../src/backend/index.js';

export function useRefBackend(): void {
  setBackend(refBackend);
}

useRefBackend();
