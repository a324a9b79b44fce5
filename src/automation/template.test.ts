import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTemplate, templateFields } from './template.js';

test('fields with digits in their names ({{sha256}}) are placeholders too', () => {
  assert.deepEqual(templateFields('{{path}} {{sha256}}'), ['path', 'sha256']);
  assert.equal(renderTemplate('{{ sha256 }}', { sha256: 'ab' }, 'text'), 'ab');
});
