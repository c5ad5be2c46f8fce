import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, commandHelp, editDistance, parseCommandArgs } from './args.ts';
import type { OptionSpecs } from './args.ts';

const SPECS: OptionSpecs = {
  archive: { type: 'string', value: '<dir>', required: true, description: 'Archive root' },
  from: { type: 'string', value: '<time>', default: 'the first flow', description: 'Start' },
  limit: { type: 'string', short: 'n', value: '<rows>', default: '10', description: 'Rows' },
  other: { type: 'boolean', description: 'Other row' },
  'keep-suffix': { type: 'string', multiple: true, value: '<s>', default: 'none', description: 'Suffix' },
};

test('editDistance counts insertions, deletions, substitutions and adjacent swaps', () => {
  assert.equal(editDistance('archive', 'archive'), 0);
  assert.equal(editDistance('archiv', 'archive'), 1);
  assert.equal(editDistance('acrhive', 'archive'), 1, 'one transposition');
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('closest suggests near names and prefixes, nothing for unrelated words', () => {
  const names = ['--archive', '--from', '--limit', '--other'];
  assert.equal(closest('--archiv', names), '--archive');
  assert.equal(closest('--lmit', names), '--limit');
  assert.equal(closest('--arch', names), '--archive', 'a prefix');
  assert.equal(closest('--zzzzzz', names), undefined);
  assert.equal(closest('serv', ['demo', 'serve', 'token']), 'serve');
  assert.equal(closest('xyz', ['demo', 'serve', 'token']), undefined);
});

test('string options take values that start with a dash; short options and repeats work', () => {
  const { values, positionals } = parseCommandArgs(['--from', '-1h', '-n', '5', '--other', 'cap.pcap', '--keep-suffix', 'a', '--keep-suffix=b', '--archive=x'], SPECS);
  assert.deepEqual(values, { from: '-1h', limit: '5', other: true, 'keep-suffix': ['a', 'b'], archive: 'x' });
  assert.deepEqual(positionals, ['cap.pcap']);
  assert.deepEqual(parseCommandArgs(['--', '--from'], SPECS).positionals, ['--from']);
});

test('usage errors: unknown option with a suggestion, missing value, value on a flag, repeats', () => {
  assert.throws(() => parseCommandArgs(['--archiv', 'x'], SPECS), (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST' && /unknown option '--archiv'; did you mean --archive\?/.test(e.message));
  assert.throws(() => parseCommandArgs(['--bogus'], SPECS), (e: Error) => /unknown option '--bogus'$/.test(e.message));
  assert.throws(() => parseCommandArgs(['-x'], SPECS), /unknown option '-x'/);
  assert.throws(() => parseCommandArgs(['--from'], SPECS), /--from needs a value <time>/);
  assert.throws(() => parseCommandArgs(['--from', '--other'], SPECS), /--from needs a value/, 'the next word is one of our options');
  assert.throws(() => parseCommandArgs(['--other=yes'], SPECS), /--other takes no value/);
  assert.throws(() => parseCommandArgs(['--from', 'a', '--from', 'b'], SPECS), /--from is given more than once/);
});

test('a value is never echoed in an error', () => {
  assert.throws(() => parseCommandArgs(['--from', 'a', '--from', 'secret-token-value'], SPECS), (e: Error) => !e.message.includes('secret-token-value'));
});

test('commandHelp lists every option with its default or (required), and the examples', () => {
  const h = commandHelp({ summary: 'Do it', usage: 'flowseal x', options: SPECS, examples: ['flowseal x --archive a'] });
  assert.match(h, /--archive <dir> +Archive root \(required\)/);
  assert.match(h, /-n, --limit <rows> +Rows \(default: 10\)/);
  assert.match(h, /--other +Other row \(default: off\)/);
  assert.match(h, /Examples:\n  flowseal x --archive a/);
});
