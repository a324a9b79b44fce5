// The server's own session limits (defaults for SftpServeOptions); wire-level limits are in wire/constants.ts.

export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_MAX_OPEN_HANDLES = 256;
/** Request + reply bytes a session may hold before it stops reading the channel. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Bytes of entries per NAME reply to READDIR. sftp-server sends 100 entries (up to ~62 KiB with long names);
 * a byte bound sends more of the usual short names per round trip (OpenSSH's client asks for the next batch
 * only after the previous reply) and stays far below every client's 256 KiB packet limit.
 */
export const READDIR_REPLY_BYTES = 64 * 1024;
