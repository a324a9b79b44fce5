// The store URL as Ferry prints it (errors, `ferry migrate`, `ferry store`): no password, wherever it was written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from './errors.js';

test('redactUrl hides the password in the user part and in password/sslpassword query parameters', () => {
  assert.equal(redactUrl('postgres://ferry:s3cret@db:5432/ferry'), 'postgres://ferry:***@db:5432/ferry');
  const redacted = redactUrl(
    'postgresql://ferry@db/ferry?sslmode=verify-full&password=s3cret&SSLPassword=k3y-pass&application_name=ferry',
  );
  assert.equal(
    redacted,
    'postgresql://ferry@db/ferry?sslmode=verify-full&password=***&SSLPassword=***&application_name=ferry',
  );
  assert.doesNotMatch(redacted, /s3cret|k3y-pass/);
  assert.equal(redactUrl('postgres://db/ferry?sslmode=require'), 'postgres://db/ferry?sslmode=require');
  assert.equal(redactUrl('not a url'), 'the PostgreSQL store (store.url is not a valid URL)');
});
