// Every error an API request meets becomes one RFC 9457 problem (application/problem+json) with a stable code.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type FerryErrorCode, toFerryError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The service codes, plus the two only HTTP has: no (or a bad) credential, and a request refused for its rate. */
export type ApiErrorCode = FerryErrorCode | 'ERR_UNAUTHENTICATED' | 'ERR_RATE_LIMITED';

const STATUS: Record<ApiErrorCode, number> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_INVALID_PATH: 400,
  ERR_PROTOCOL: 400,
  ERR_UNAUTHENTICATED: 401,
  ERR_PERMISSION_DENIED: 403,
  ERR_NOT_FOUND: 404,
  ERR_ALREADY_EXISTS: 409,
  ERR_NOT_A_DIRECTORY: 409,
  ERR_IS_A_DIRECTORY: 409,
  ERR_DIRECTORY_NOT_EMPTY: 409,
  ERR_LIMIT: 429,
  ERR_RATE_LIMITED: 429,
  ERR_UNSUPPORTED: 501,
  ERR_AUDIT_UNAVAILABLE: 503,
  ERR_NO_SPACE: 507,
  ERR_QUOTA_EXCEEDED: 507,
  ERR_CONFIG: 500,
  ERR_IO: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  414: 'URI Too Long',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/** The problem document every error response carries (documented once in the OpenAPI components). */
export const problemSchema = z
  .object({
    type: z.string().describe('urn:ferry:error:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    code: z.string().describe('stable error code (ERR_NOT_FOUND, ERR_INVALID_ARGUMENT, …)'),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({
    id: 'Problem',
    example: {
      type: 'urn:ferry:error:ERR_NOT_FOUND',
      title: 'Not Found',
      status: 404,
      detail: 'no user named bob',
      instance: '/api/users/bob',
      code: 'ERR_NOT_FOUND',
    },
  });
export type Problem = z.infer<typeof problemSchema>;

/** An error raised by the HTTP layer itself (authentication, rate), mapped like a service's. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  constructor(code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.headers = headers;
  }
}

export function problem(code: ApiErrorCode, detail: string, instance?: string): Problem {
  const status = STATUS[code];
  return {
    type: `urn:ferry:error:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(instance !== undefined ? { instance } : {}),
    code,
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

/** Fastify's error handler: validation, the HTTP layer's own errors, services' FerryErrors, anything else (500). */
export function errorHandler(log: Logger) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const instance = request.url.split('?')[0];
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = err.validation.map((v) => ({
        path: [err.validationContext ?? 'body', ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'invalid',
      }));
      const first = errors[0];
      const body = problem(
        'ERR_INVALID_ARGUMENT',
        first ? `${first.path}: ${first.message}` : 'invalid request',
        instance,
      );
      return sendProblem(reply, { ...body, errors });
    }
    if (err instanceof ApiError) {
      reply.headers(err.headers);
      return sendProblem(reply, problem(err.code, err.message, instance));
    }
    // Fastify's own client errors (malformed JSON, a wrong content type, too large a body): their status stays.
    const status = err.statusCode;
    if (String(err.code ?? '').startsWith('FST_') && status !== undefined && status >= 400 && status < 500) {
      const code: ApiErrorCode = status === 429 ? 'ERR_RATE_LIMITED' : 'ERR_INVALID_ARGUMENT';
      const title = TITLES[status] ?? 'Bad Request';
      return sendProblem(reply, { ...problem(code, err.message, instance), status, title });
    }
    const ferry = toFerryError(err);
    const body = problem(ferry.code, ferry.message, instance);
    // A 500 says only what went wrong in general: its cause (a path, a SQL statement) stays in the log.
    if (body.status >= 500) {
      log.error({ err, url: instance, method: request.method }, 'API request failed');
      if (ferry.code === 'ERR_IO' || ferry.code === 'ERR_CONFIG')
        return sendProblem(reply, { ...body, detail: 'internal error; see the server log' });
    }
    return sendProblem(reply, body);
  };
}

/**
 * The longest path segment (a name, an address, an id) the router takes, percent-encoded as it arrives: a name of
 * 200 characters (the longest any resource allows) stays under it even when every one is a 3-byte UTF-8 letter.
 */
export const MAX_PARAM_LENGTH = 2048;

/** At most this much of a refused URL is echoed back in a problem's `instance`. */
const INSTANCE_ECHO = 256;

/**
 * Errors the router raises before any route runs (Fastify's `frameworkErrors`): a path segment longer than
 * MAX_PARAM_LENGTH (414) or one that does not decode (400), as problems like every other error.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?')[0] ?? '';
  const instance = path.length > INSTANCE_ECHO ? `${path.slice(0, INSTANCE_ECHO)}…` : path;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const detail = `a path segment is longer than ${MAX_PARAM_LENGTH} characters; names, addresses and ids are far shorter`;
    return sendProblem(reply, {
      ...problem('ERR_INVALID_ARGUMENT', detail, instance),
      status: 414,
      title: TITLES[414]!,
    });
  }
  if (err.code === 'FST_ERR_BAD_URL')
    return sendProblem(
      reply,
      problem('ERR_INVALID_ARGUMENT', 'the URL does not decode (a bad %-escape)', instance),
    );
  return sendProblem(reply, problem('ERR_IO', 'the request could not be routed', instance));
}

/** Unknown routes, as problems too. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    problem(
      'ERR_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0]}`,
      request.url.split('?')[0],
    ),
  );
}
