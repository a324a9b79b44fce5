// The schema of each action kind a rule can run, and which kinds need a file event or may answer a hook.
import { z } from 'zod';
import { ACCOUNT, list, positiveInt, required, template, text } from './rule-schema-fields.js';

export const HOOK_ACTIONS: readonly string[] = ['webhook', 'command'];
export const FILE_KINDS = ['move', 'copy', 'rename', 'delete', 'sha256'] as const;

/** Deliberately plain: one address, no display name, no list; the mailer does the rest. */
const EMAIL = /^[^\s@<>,;"()]+@[^\s@<>,;"()[\]]+$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** Set by the signer, or credentials that would sit in the store unsealed and show in `rules show`. */
const RESERVED_HEADERS =
  /^(webhook-.*|content-type|content-length|host|authorization|proxy-authorization|cookie)$/i;

const httpUrl = text().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not a URL` });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `must be http:// or https://, not ${url.protocol}` });
  } else if (url.username || url.password) {
    // The URL is shown by `rules show` and recorded in events; credentials belong in the signing secret.
    ctx.addIssue({ code: 'custom', message: 'must not hold a user name or password' });
  }
});

const webhookSchema = z.strictObject({
  kind: z.literal('webhook'),
  url: httpUrl,
  headers: z
    .record(
      z.string(),
      template().refine((v) => !/[\r\n]/.test(v), 'must be one line'),
    )
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'is not a valid header name' });
        } else if (RESERVED_HEADERS.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'is set by Ferry or would hold an unsealed credential (use the signing secret)',
          });
        }
      }
    })
    .optional(),
  timeout: positiveInt(300).optional(),
});

const emailSchema = z.strictObject({
  kind: z.literal('email'),
  to: list(z.string(required('an address')).regex(EMAIL, 'must be one e-mail address, e.g. ops@example.com')),
  cc: list(
    z.string(required('an address')).regex(EMAIL, 'must be one e-mail address, e.g. ops@example.com'),
  ).optional(),
  subject: template()
    .refine((v) => !/[\r\n]/.test(v), 'must be one line')
    .optional(),
  body: template().optional(),
});

const commandSchema = z.strictObject({
  kind: z.literal('command'),
  argv: list(template()).refine(
    (argv) => argv[0]?.startsWith('/') === true && !argv[0].includes('{{'),
    'argv[0] must be the absolute path of the program, without placeholders',
  ),
  timeout: positiveInt(3600).optional(),
});

/** A target template must render an absolute virtual path: it starts with `/` or a field holding one. */
const targetTemplate = template().refine(
  (t) => t.startsWith('/') || /^\{\{\s*(path|dir|target)\s*\}\}/.test(t),
  'must be a virtual path starting with / (or with {{dir}}, {{path}} or {{target}})',
);
const virtualPath = text().refine((p) => p.startsWith('/'), 'must be a virtual path starting with /');

const fileSchema = z
  .strictObject({
    kind: z.enum(FILE_KINDS),
    target: targetTemplate.optional(),
    user: z.string().regex(ACCOUNT, 'must be a user name').optional(),
  })
  .superRefine((a, ctx) => {
    const needsTarget = a.kind === 'move' || a.kind === 'copy' || a.kind === 'rename';
    if (needsTarget && a.target === undefined) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: `is required for ${a.kind}` });
    }
    if (!needsTarget && a.target !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: `is not used by ${a.kind}` });
    }
  });

const runJobSchema = z.strictObject({ kind: z.literal('run-job'), job: text() });

const retentionSchema = z
  .strictObject({
    kind: z.literal('retention'),
    user: z.string(required('a user name')).regex(ACCOUNT, 'must be a user name'),
    path: virtualPath.refine((p) => !p.includes('{{'), 'must not hold placeholders'),
    olderThanDays: positiveInt(36_500).optional(),
    keepFiles: z.number().int('must be a whole number').min(0, 'must not be negative').optional(),
    moveTo: virtualPath.refine((p) => !p.includes('{{'), 'must not hold placeholders').optional(),
    dryRun: z.boolean().optional(),
  })
  .refine((a) => a.olderThanDays !== undefined || a.keepFiles !== undefined, {
    message: 'needs olderThanDays or keepFiles (or both)',
    path: ['olderThanDays'],
  })
  .refine((a) => a.moveTo === undefined || !`${a.moveTo}/`.startsWith(`${a.path.replace(/\/$/, '')}/`), {
    message: 'must be outside path (or files moved there would be swept again)',
    path: ['moveTo'],
  });

/** An OpenPGP key as the Key Manager names it: name, fingerprint or key id (resolved when the rule is saved). */
const pgpKey = z.string(required('a key')).min(1, 'must not be empty').max(128, 'is too long');

const encryptSchema = z.strictObject({
  kind: z.literal('encrypt'),
  encryptTo: list(pgpKey),
  signWith: pgpKey.optional(),
  armor: z.boolean().optional(),
  target: targetTemplate.optional(),
  removeSource: z.boolean().optional(),
  user: z.string().regex(ACCOUNT, 'must be a user name').optional(),
});

const decryptSchema = z.strictObject({
  kind: z.literal('decrypt'),
  decryptWith: list(pgpKey).optional(),
  verifyWith: list(pgpKey).optional(),
  target: targetTemplate.optional(),
  removeSource: z.boolean().optional(),
  user: z.string().regex(ACCOUNT, 'must be a user name').optional(),
});

/** Actions on the event's file besides FILE_KINDS: they need a file event too. */
export const PGP_KINDS = ['encrypt', 'decrypt'] as const;

export const ACTION_KINDS = [
  'webhook',
  'email',
  'command',
  ...FILE_KINDS,
  'run-job',
  'retention',
  ...PGP_KINDS,
] as const;

export const ruleActionSchema = z.discriminatedUnion(
  'kind',
  [
    webhookSchema,
    emailSchema,
    commandSchema,
    fileSchema,
    runJobSchema,
    retentionSchema,
    encryptSchema,
    decryptSchema,
  ],
  { error: `must be one of ${ACTION_KINDS.join(', ')}` },
);
