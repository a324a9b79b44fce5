// SFTP v3 wire constants (draft-ietf-secsh-filexfer-02) and extension names: one definition for server and client.

export const SFTP_VERSION = 3;

/** Packet types. */
export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** Status codes (v3 defines 0..8 only). */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;
export type StatusCode = (typeof FX)[keyof typeof FX];

/** Attribute flags. */
export const ATTR = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000,
} as const;

/** OPEN pflags. */
export const FXF = {
  READ: 0x00000001,
  WRITE: 0x00000002,
  APPEND: 0x00000004,
  CREAT: 0x00000008,
  TRUNC: 0x00000010,
  EXCL: 0x00000020,
} as const;

/** Extension request names (OpenSSH PROTOCOL §4, draft-ietf-secsh-filexfer-extensions). */
export const EXT = {
  POSIX_RENAME: 'posix-rename@openssh.com',
  STATVFS: 'statvfs@openssh.com',
  FSTATVFS: 'fstatvfs@openssh.com',
  HARDLINK: 'hardlink@openssh.com',
  FSYNC: 'fsync@openssh.com',
  LSETSTAT: 'lsetstat@openssh.com',
  LIMITS: 'limits@openssh.com',
  EXPAND_PATH: 'expand-path@openssh.com',
  HOME_DIRECTORY: 'home-directory',
  COPY_DATA: 'copy-data',
  CHECK_FILE_HANDLE: 'check-file-handle',
  CHECK_FILE_NAME: 'check-file-name',
  /** Not a request: the name a check-file reply starts with. */
  CHECK_FILE_REPLY: 'check-file',
} as const;

/** statvfs@openssh.com f_flag bits. */
export const STATVFS_FLAG = { RDONLY: 0x1, NOSUID: 0x2 } as const;

/** OpenSSH's SFTP_MAX_MSG_LENGTH: the largest packet a peer must accept (and our server's default limit). */
export const DEFAULT_MAX_PACKET_LENGTH = 256 * 1024;
/** OpenSSH's SFTP_MAX_READ_LENGTH (255 KiB): leaves room for the DATA header inside one max packet. */
export const MAX_READ_LENGTH = DEFAULT_MAX_PACKET_LENGTH - 1024;
export const MAX_WRITE_LENGTH = DEFAULT_MAX_PACKET_LENGTH - 1024;
