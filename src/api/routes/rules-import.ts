// POST /api/rules/import: a rules file (YAML, or JSON) as the request body, imported by the same service as
// `ferry rules import`: every rule checked before any is saved, unchanged rules left alone. Sent over HTTP, a
// rule carries its webhook `secret` itself; `secretEnv` is refused, since the server's environment is not the caller's.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidArgumentError } from '../../errors.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const reportSchema = z
  .object({
    added: z.array(z.string()).readonly(),
    updated: z.array(z.string()).readonly(),
    unchanged: z.array(z.string()).readonly(),
  })
  .meta({
    id: 'RulesImport',
    example: { added: ['partner-in'], updated: [], unchanged: ['nightly-report'] },
  });

/** A rules file as JSON: a list of rules, or `{ "rules": [...] }` (YAML bodies come as text). */
const fileSchema = z
  .union([z.string(), z.array(z.unknown()), z.record(z.string(), z.unknown())])
  .describe('the rules file: JSON (application/json) or YAML (application/yaml, text/yaml)');

export const ruleImportRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    // Only in this plugin: elsewhere a YAML body stays an unsupported media type.
    app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));

    app.post(
      '/api/rules/import',
      {
        config: { permission: 'rules:write' },
        schema: {
          tags: ['rules'],
          summary:
            'Import a rules file (the body: YAML or JSON, as `ferry rules import` reads it); adds and updates, keeps rules it does not name',
          consumes: ['application/json', ...YAML_TYPES],
          body: fileSchema.meta({
            example: {
              rules: [
                {
                  name: 'partner-in',
                  events: ['upload'],
                  conditions: { paths: ['/inbound/acme/**'] },
                  actions: [{ kind: 'webhook', url: 'https://hooks.example.com/ferry' }],
                  secret: 'a-long-random-signing-secret',
                },
              ],
            },
          }),
          response: { 200: reportSchema, ...problemResponses },
        },
      },
      async (request) => {
        const body = request.body;
        if (typeof body === 'string' && body.trim() === '')
          throw new InvalidArgumentError('the body is empty: send the rules file');
        return deps.admin.rules.import(
          actorOf(request),
          typeof body === 'string' ? body : JSON.stringify(body),
          {
            format: typeof body === 'string' ? 'yaml' : 'json',
            source: 'POST /api/rules/import',
            secrets: 'inline',
          },
        );
      },
    );
  };
