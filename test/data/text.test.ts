/** The character-level text data (data/text.ts): the fixed 96-symbol encoding, windows, the split, entropy, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { charId, encodeText, idChar, loadTextCorpus, TEXT_VOCAB, unigramEntropy, windowDataset } from '../../src/data/text.js';
import { loadDataset } from '../../src/data/registry.js';
import { assertFqtError } from '../helpers/errors.js';

describe('text corpus', () => {
  it('encodes 96 symbols: newline, printable ASCII; tab → space; other bytes dropped', () => {
    assert.equal(TEXT_VOCAB, 96);
    assert.deepEqual([...encodeText(Buffer.from('a\tb\n~\x08\xe9'))], [charId(97), 1, charId(98), 0, 95]);
    for (let id = 0; id < 96; id++) assert.equal(charId(idChar(id).charCodeAt(0)), id);
  });
  it('windows of T + 1 ids with stride T; a language-model data set', () => {
    const ds = windowDataset('w', Int32Array.from({ length: 10 }, (_, i) => i), 3);
    assert.equal(ds.task, 'language-model');
    assert.equal(ds.n, 3);
    assert.deepEqual([...ds.images], [0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9]);
  });
  it('splits every file 90 / 10 and measures the unigram entropy in nats', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fqt-text-'));
    writeFileSync(path.join(dir, 'a'), 'ab'.repeat(100));
    writeFileSync(path.join(dir, 'a.dat'), 'skipped');
    const { train, test } = loadTextCorpus('t', dir, 4);
    assert.equal(train.n, Math.floor((180 - 1) / 4));
    assert.equal(test.n, Math.floor((20 - 1) / 4));
    assert.ok(Math.abs(unigramEntropy(train) - Math.log(2)) < 1e-3);
  });
  it('a missing corpus is a one-line error saying how to install it', () => {
    assertFqtError(() => loadDataset('fortunes', { dataDir: '/nonexistent/fortunes' }), '/nonexistent/fortunes');
    assertFqtError(() => loadTextCorpus('fortunes', '/usr/share/games/fortunes-missing'), 'cannot be read');
  });
});
