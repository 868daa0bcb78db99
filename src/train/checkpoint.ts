/**
 * Crash-safe checkpoints. Layout of a checkpoint directory `dir`:
 *
 *   dir/latest.json          pointer {format, version, latest: 'ckpt-000007', history: ['ckpt-000007', 'ckpt-000006']}
 *   dir/ckpt-000007/         model.safetensors (usable alone, e.g. for --init), optimizer.safetensors,
 *                            state.json (run state, optimizer meta, byte size and sha256 of both files, and the
 *                            sha256 of its own content, so every byte of a checkpoint is covered by a hash)
 *   dir/ckpt-000006/         the previous one (`keep` = 2 by default)
 *
 * Saving: refuse non-finite values → write every file into a temporary directory and fsync it → rename
 * it to the next ckpt-N (atomic) → replace latest.json atomically (tmp file + fsync + rename) → only
 * then delete checkpoints that fell out of the history, plus leftovers of interrupted saves. A crash at
 * any point leaves latest.json naming a complete checkpoint. One writer per directory (train/lock.ts).
 *
 * Loading checks every hash (and the caller's validation of the run state); a checkpoint that fails is skipped
 * for the previous one in the history, with a warning — it is never loaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { check, FqtError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { OptimizerMeta, OptimizerState } from '../optim/optimizer.js';
import { fsyncDir, listDir, removeStaleTemporaries, writeFileAtomic, writeFileDurable } from './atomic.js';
import { decodeSafetensors, encodeSafetensors, floatWeights, readFileBytes, readSafetensors, writeSafetensors, type SafetensorsContent, type TensorLike } from './safetensors.js';

export interface CheckpointData {
  /** Parameters and buffers by name (e.g. Module.stateDict()). */
  model: Map<string, TensorLike>;
  optimizer: OptimizerState;
  /** JSON: epoch, iteration, rng state, config, recipe label, metrics so far ... */
  state: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  /** The checkpoint's own directory (…/ckpt-000007). */
  path: string;
  model: Map<string, Tensor>;
  optimizer: OptimizerState;
  state: Record<string, unknown>;
}

/** Points in a save after which `onStep` is called (tests throw there to simulate a crash). */
export type SaveStep = 'files-written' | 'renamed' | 'pointer-written';

export interface SaveOptions {
  /** Checkpoints to keep, newest first (≥ 1). Default 2. */
  keep?: number;
  /** Test hook: called after each step of the save; throwing aborts the save there. */
  onStep?: (step: SaveStep) => void;
}

const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'state.json';
const POINTER_FILE = 'latest.json';
const CKPT_NAME = /^ckpt-(\d{6,})$/;
const TMP_PREFIX = '.tmp-ckpt-';
const WEIGHTS_METADATA = { format: 'pt', producer: 'fqt' };

interface Pointer { format: 'fqt-checkpoint-pointer'; version: 1; latest: string; history: string[] }
interface FileRecord { bytes: number; sha256: string }
interface StateFile {
  format: 'fqt-checkpoint';
  /** 2: `sha256` of the content is required (version 1, without it, still loads). */
  version: 1 | 2;
  createdAt: string;
  files: Record<string, FileRecord>;
  optimizer: OptimizerMeta;
  state: Record<string, unknown>;
  /** sha256 of JSON.stringify of every other field, in this order (version 2). */
  sha256?: string;
}

export interface LoadOptions {
  /** Checks the run state of a candidate (throws FqtError naming the field); a failing checkpoint is skipped. */
  validate?: (state: Record<string, unknown>, ckpt: string) => void;
  /** Where the warning about a skipped checkpoint goes (default: stderr). */
  warn?: (line: string) => void;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Throw naming the first non-finite value (a diverged run must not replace a good checkpoint). */
function checkFinite(what: string, name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) throw new FqtError(`refusing to save: ${what} '${name}' has a non-finite value (${v}) at index ${i}`);
  }
}

function fileRecord(chunks: Uint8Array[]): FileRecord {
  const h = createHash('sha256');
  let bytes = 0;
  for (const c of chunks) { h.update(c); bytes += c.byteLength; }
  return { bytes, sha256: h.digest('hex') };
}

function readJson(file: string, what: string): unknown {
  const text = readFileBytes(file, `no such file (${what})`).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FqtError(`${file}: corrupt ${what}: not valid JSON (${(err as Error).message})`);
  }
}

function readPointer(dir: string): Pointer {
  const file = path.join(dir, POINTER_FILE);
  const p = readJson(file, 'checkpoint pointer') as Partial<Pointer> | null;
  const ok = p !== null && typeof p === 'object' && p.format === 'fqt-checkpoint-pointer' && p.version === 1 &&
    typeof p.latest === 'string' && CKPT_NAME.test(p.latest) && Array.isArray(p.history) &&
    p.history.every((h) => typeof h === 'string' && CKPT_NAME.test(h)) && p.history[0] === p.latest;
  check(ok, () => `${file}: corrupt checkpoint pointer (expected {format: 'fqt-checkpoint-pointer', version: 1, latest: 'ckpt-NNNNNN', history})`);
  return p as Pointer;
}

function checkpointNumbers(dir: string): number[] {
  return listDir(dir).map((n) => CKPT_NAME.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
}

function ckptName(n: number): string {
  return `ckpt-${String(n).padStart(6, '0')}`;
}

/** Save a checkpoint into `dir` (created if needed); returns the new checkpoint's directory. */
export function saveCheckpoint(dir: string, data: CheckpointData, opts: SaveOptions = {}): string {
  const keep = opts.keep ?? 2;
  check(Number.isInteger(keep) && keep >= 1, () => `saveCheckpoint: keep must be an integer ≥ 1, got ${keep}`);
  check(data.model instanceof Map && data.optimizer?.tensors instanceof Map && data.optimizer.meta !== undefined,
    'saveCheckpoint: expected {model: Map, optimizer: {tensors, meta}, state}');
  for (const [name, t] of data.model) checkFinite('weight', name, t.data);
  for (const [name, buf] of data.optimizer.tensors) checkFinite('optimizer buffer', name, buf);
  const files: [string, Uint8Array[]][] = [
    [MODEL_FILE, encodeSafetensors(data.model, WEIGHTS_METADATA)],
    [OPTIMIZER_FILE, encodeSafetensors([...data.optimizer.tensors].map(([k, v]): [string, TensorLike] => [k, { shape: [v.length], data: v }]))],
  ];
  const stateFile: StateFile = {
    format: 'fqt-checkpoint',
    version: 2,
    createdAt: new Date().toISOString(),
    files: Object.fromEntries(files.map(([name, chunks]) => [name, fileRecord(chunks)])),
    optimizer: data.optimizer.meta,
    state: data.state,
  };
  let stateText: string;
  try {
    stateText = JSON.stringify({ ...stateFile, sha256: sha256(JSON.stringify(stateFile)) }, null, 1);
  } catch (err) {
    throw new FqtError(`saveCheckpoint: the run state is not JSON-serialisable (${(err as Error).message})`);
  }
  files.push([STATE_FILE, [Buffer.from(`${stateText}\n`, 'utf8')]]);

  let tmp: string | null = null;
  try {
    fs.mkdirSync(dir, { recursive: true });
    removeStaleTemporaries(dir);
    let previous: Pointer | null = null;
    let pointerReadable = true;
    if (fs.existsSync(path.join(dir, POINTER_FILE))) {
      try { previous = readPointer(dir); } catch { pointerReadable = false; }
    }
    const next = Math.max(0, ...checkpointNumbers(dir), ...(previous?.history ?? []).map((h) => Number(CKPT_NAME.exec(h)![1]))) + 1;
    const name = ckptName(next);

    tmp = path.join(dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(tmp);
    for (const [file, chunks] of files) writeFileDurable(path.join(tmp, file), chunks);
    fsyncDir(tmp);
    opts.onStep?.('files-written');

    const final = path.join(dir, name);
    fs.renameSync(tmp, final);
    tmp = null;
    fsyncDir(dir);
    opts.onStep?.('renamed');

    const history = [name, ...(previous?.history ?? []).filter((h) => h !== name)].slice(0, keep);
    const pointer: Pointer = { format: 'fqt-checkpoint-pointer', version: 1, latest: name, history };
    writeFileAtomic(path.join(dir, POINTER_FILE), [Buffer.from(`${JSON.stringify(pointer, null, 1)}\n`, 'utf8')]);
    opts.onStep?.('pointer-written');

    // Only now may older checkpoints go. With an unreadable old pointer we cannot tell which
    // directories were good, so nothing is deleted this time.
    if (pointerReadable) {
      for (const n of checkpointNumbers(dir)) {
        if (!history.includes(ckptName(n))) fs.rmSync(path.join(dir, ckptName(n)), { recursive: true, force: true });
      }
    }
    return final;
  } catch (err) {
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
    if (err instanceof FqtError) throw err;
    throw new FqtError(`cannot save checkpoint in ${dir}: ${(err as Error).message}`);
  }
}

/** Read one file of a checkpoint, checking its size and checksum against state.json. */
function readRecorded(ckpt: string, name: string, rec: FileRecord): SafetensorsContent {
  const file = path.join(ckpt, name);
  const bytes = readFileBytes(file, 'missing from the checkpoint');
  check(bytes.byteLength === rec.bytes, () => `${file}: corrupt checkpoint file: ${bytes.byteLength} bytes, expected ${rec.bytes}${bytes.byteLength < rec.bytes ? ' (truncated)' : ''}`);
  const sha = createHash('sha256').update(bytes).digest('hex');
  check(sha === rec.sha256, () => `${file}: corrupt checkpoint file: sha256 ${sha.slice(0, 12)}… does not match the recorded ${rec.sha256.slice(0, 12)}…`);
  return decodeSafetensors(bytes, file);
}

function toFloatTensors(content: SafetensorsContent, file: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, e] of content.tensors) {
    check(e.data instanceof Float32Array, () => `${file}: tensor '${name}' has dtype ${e.dtype}; model weights must be F32`);
    const t = new Tensor(e.data, e.shape);
    t.name = name;
    out.set(name, t);
  }
  return out;
}

/** Load the checkpoint stored in directory `ckpt` (a ckpt-NNNNNN directory). */
function loadCheckpointDir(ckpt: string): LoadedCheckpoint {
  const stateFile = path.join(ckpt, STATE_FILE);
  const s = readJson(stateFile, 'checkpoint state') as Partial<StateFile> | null;
  const recordOk = (r: unknown): r is FileRecord => r !== null && typeof r === 'object' &&
    Number.isSafeInteger((r as FileRecord).bytes) && typeof (r as FileRecord).sha256 === 'string';
  check(s !== null && typeof s === 'object' && !Array.isArray(s) && s.format === 'fqt-checkpoint' && (s.version === 1 || s.version === 2) &&
    s.files !== null && typeof s.files === 'object' && recordOk(s.files[MODEL_FILE]) && recordOk(s.files[OPTIMIZER_FILE]) &&
    s.optimizer !== null && typeof s.optimizer === 'object' && s.state !== null && typeof s.state === 'object' && !Array.isArray(s.state),
  () => `${stateFile}: corrupt checkpoint state (expected format 'fqt-checkpoint' version 1 or 2 with files, optimizer and state)`);
  if (s.version === 2) {
    const { sha256: recorded, ...content } = s;
    const actual = sha256(JSON.stringify(content));
    check(recorded === actual, () => `${stateFile}: corrupt checkpoint state: its content hash ${actual.slice(0, 12)}… does not match the recorded ${String(recorded).slice(0, 12)}…`);
  }
  const model = toFloatTensors(readRecorded(ckpt, MODEL_FILE, s.files![MODEL_FILE]), path.join(ckpt, MODEL_FILE));
  const optFile = path.join(ckpt, OPTIMIZER_FILE);
  const tensors = new Map<string, Float32Array>();
  for (const [name, e] of readRecorded(ckpt, OPTIMIZER_FILE, s.files![OPTIMIZER_FILE]).tensors) {
    check(e.data instanceof Float32Array, () => `${optFile}: tensor '${name}' has dtype ${e.dtype}; optimizer buffers must be F32`);
    tensors.set(name, e.data);
  }
  return { path: ckpt, model, optimizer: { tensors, meta: s.optimizer! }, state: s.state! };
}

/** The directory of the checkpoint `p` designates (a checkpoint root with latest.json, or a ckpt dir), or null. */
export function latestCheckpointPath(p: string): string | null {
  if (fs.existsSync(path.join(p, POINTER_FILE))) return path.join(p, readPointer(p).latest);
  if (fs.existsSync(path.join(p, STATE_FILE))) return p;
  return null;
}

/**
 * The checkpoints of root `p`, newest first: the pointer's history, or — when latest.json itself is unreadable —
 * every complete ckpt-NNNNNN directory (a rename makes one complete), highest number first.
 */
function candidates(p: string, warn: (line: string) => void): string[] {
  try {
    return readPointer(p).history.map((h) => path.join(p, h));
  } catch (err) {
    if (!(err instanceof FqtError)) throw err;
    warn(`fqt: warning: ${err.message}; looking for the newest complete checkpoint directory instead`);
    return checkpointNumbers(p).sort((a, b) => b - a).map((n) => path.join(p, ckptName(n)));
  }
}

/**
 * Load a checkpoint: `p` is a checkpoint root (the newest good one is loaded) or one ckpt-NNNNNN directory. A
 * checkpoint whose files, hashes or run state (opts.validate) fail the checks is skipped for the previous one with
 * a warning naming the problem, never loaded; when none is good, the error names the newest one's problem.
 */
export function loadCheckpoint(p: string, opts: LoadOptions = {}): LoadedCheckpoint {
  const warn = opts.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = fs.existsSync(path.join(p, POINTER_FILE)) || (checkpointNumbers(p).length > 0 && !fs.existsSync(path.join(p, STATE_FILE)));
  const dirs = root ? candidates(p, warn) : fs.existsSync(path.join(p, STATE_FILE)) ? [p] : [];
  check(dirs.length > 0, () => `${p}: no checkpoint here (neither ${POINTER_FILE} nor ${STATE_FILE})`);
  let first: FqtError | null = null;
  for (const dir of dirs) {
    try {
      const ck = loadCheckpointDir(dir);
      opts.validate?.(ck.state, dir);
      if (first !== null) warn(`fqt: warning: ${first.message}; using the previous checkpoint ${dir}`);
      return ck;
    } catch (err) {
      if (!(err instanceof FqtError)) throw err;
      first ??= err;
    }
  }
  throw first!;
}

/** Whether `dir` (a checkpoint root) has a completed checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, POINTER_FILE)) || checkpointNumbers(dir).length > 0;
}

/** The newest good checkpoint in `dir`, or null when none was ever completed there (see loadCheckpoint). */
export function latestCheckpoint(dir: string, opts: LoadOptions = {}): LoadedCheckpoint | null {
  if (!fs.existsSync(dir) || !hasCheckpoint(dir)) return null;
  return loadCheckpoint(dir, opts);
}

/** Write a plain safetensors weights file atomically; refuses non-finite values. */
export function saveWeights(file: string, weights: Map<string, TensorLike>, metadata: Record<string, string> = {}): void {
  for (const [name, t] of weights) checkFinite('weight', name, t.data);
  writeSafetensors(file, weights, { ...WEIGHTS_METADATA, ...metadata });
}

/**
 * Load weights as float32 (F16 / BF16 / F64 converted; PyTorch's num_batches_tracked skipped) from a safetensors file,
 * or from the model.safetensors of a checkpoint when `p` is a
 * checkpoint directory (its root or one ckpt-NNNNNN) or a run directory (`fqt train --out`: its checkpoints/).
 */
export function loadWeights(p: string): Map<string, Tensor> {
  let file = p;
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
    const runCheckpoints = path.join(p, 'checkpoints');
    const dir = !fs.existsSync(path.join(p, POINTER_FILE)) && !fs.existsSync(path.join(p, STATE_FILE)) && fs.existsSync(runCheckpoints) ? runCheckpoints : p;
    const ckpt = latestCheckpointPath(dir);
    check(ckpt !== null, () => `${p}: a directory without a checkpoint (neither ${POINTER_FILE} nor ${STATE_FILE})`);
    file = path.join(ckpt, MODEL_FILE);
  }
  return toFloatTensors(floatWeights(readSafetensors(file), file), file);
}
