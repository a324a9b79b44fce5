// The HTTP API's address as configured (`http.listen`) and as announced; no server code, so `serve`'s primary can use it.
import type { FerryConfig } from '../config/schema.js';

/** `127.0.0.1:8080` or `[::1]:8080` as host and port. */
export function parseHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(at + 1)) };
}

/** Whether the API is served over TLS: from files (`http.tlsCert`) or the Key Manager (`http.tlsKeyName`). */
export function servesHttps(config: FerryConfig): boolean {
  return config.http.tlsCert !== undefined || config.http.tlsKeyName !== undefined;
}

/** The start-up line naming the API's URL (printed by a single process, or by the primary of its workers). */
export function httpApiLine(config: FerryConfig, port: number): string {
  const scheme = servesHttps(config) ? 'https' : 'http';
  const { host } = parseHostPort(config.http.listen);
  const shown = host.includes(':') ? `[${host}]` : host;
  return `HTTP API listening on ${scheme}://${shown}:${port}/api (docs /api/docs, metrics /metrics)`;
}
