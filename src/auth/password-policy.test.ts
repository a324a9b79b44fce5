import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_PASSWORD_POLICY, passwordEntropyBits, passwordRuleBroken } from './password-policy.js';

test('entropy estimate: characters (a run of one character counted once) × log2 of the classes used', () => {
  assert.equal(passwordEntropyBits(''), 0);
  assert.equal(Math.round(passwordEntropyBits('aaaaaaaaaaaa') * 10) / 10, 4.7, 'a run counts once');
  assert.equal(Math.round(passwordEntropyBits('abcdefghijklm')), 61, '13 lower-case letters');
  assert.equal(Math.round(passwordEntropyBits('Tr0ub4dor&3')), 72, 'all four classes: 95 symbols');
  assert.ok(passwordEntropyBits('correcthorsebatterystaple') > passwordEntropyBits('Tr0ub4dor&3'));
  assert.ok(
    passwordEntropyBits('ääääöööü') < passwordEntropyBits('äöüäöüäö'),
    'non-ASCII letters count as letters',
  );
});

test('minEntropyBits refuses a guessable password with one line naming the rule, and accepts a strong one', () => {
  const policy = { ...NO_PASSWORD_POLICY, minEntropyBits: 60 };
  const weak = passwordRuleBroken('Password1', policy);
  assert.match(weak ?? '', /^password refused: it is too easy to guess \(about 47 bits, at least 60 needed/);
  assert.match(weak ?? '', /\(passwordPolicy\.minEntropyBits\)$/);
  assert.equal(weak?.includes('\n'), false);
  assert.equal(
    passwordRuleBroken('zzzzzzzzzzzzzzzzzzzzzzzz', policy)?.includes('minEntropyBits'),
    true,
    'one letter repeated',
  );
  assert.equal(passwordRuleBroken('abcdefghijklm', policy), undefined);
  assert.equal(passwordRuleBroken('Tr0ub4dor&3x', policy), undefined);
  assert.equal(passwordRuleBroken('a', NO_PASSWORD_POLICY), undefined, 'off at 0');
});

test('rules are checked in order: length first, then classes, then entropy', () => {
  const policy = { ...NO_PASSWORD_POLICY, minLength: 12, minClasses: 3, minEntropyBits: 200 };
  assert.match(passwordRuleBroken('short', policy) ?? '', /minLength/);
  assert.match(passwordRuleBroken('longbutonlylower', policy) ?? '', /minClasses/);
  assert.match(passwordRuleBroken('Long-but-not-200-bits', policy) ?? '', /minEntropyBits/);
});
