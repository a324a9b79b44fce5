// What a job needs of a logged-in partner, whatever the protocol: list a directory, move a file each way with
// resume and verification, and the after-transfer operations (delete, move). One adapter per protocol.
import { posix } from 'node:path';
import type { SftpConnection } from './connection.js';
import type { FtpsConnection } from './ftps-connection.js';
import { ftpsDownload, ftpsUpload } from './ftps-transfer.js';
import type { SourceFile } from './ledger.js';
import { isRegularFile } from './sftp-client.js';
import {
  download,
  type LocalFile,
  type TransferOptions,
  type TransferResult,
  type UploadOptions,
  upload,
} from './transfer.js';

export interface PartnerLink {
  /** The protocol of audit records and events of this link's transfers. */
  readonly clientProtocol: 'sftp-client' | 'ftps-client';
  /** The regular files of a remote directory. */
  listFiles(dir: string): Promise<SourceFile[]>;
  download(remotePath: string, local: LocalFile, options: TransferOptions): Promise<TransferResult>;
  upload(local: LocalFile, remotePath: string, options: UploadOptions): Promise<TransferResult>;
  remove(path: string): Promise<void>;
  /** Moves a file into `dir` (created when missing), replacing a file of that name there. */
  moveInto(path: string, dir: string): Promise<void>;
  close(): Promise<void>;
}

export function sftpLink(conn: SftpConnection): PartnerLink {
  const { sftp } = conn;
  return {
    clientProtocol: 'sftp-client',
    listFiles: async (dir) =>
      (await sftp.list(dir))
        .filter((e) => isRegularFile(e.attrs))
        .map((e) => ({ name: e.filename, size: e.attrs.size ?? 0, mtime: e.attrs.mtime ?? 0 })),
    download: (remotePath, local, options) => download(sftp, remotePath, local, options),
    upload: (local, remotePath, options) => upload(sftp, local, remotePath, options),
    remove: (path) => sftp.remove(path),
    moveInto: async (path, dir) => {
      if (!(await sftp.tryStat(dir))) await sftp.mkdir(dir);
      await sftp.rename(path, posix.join(dir, posix.basename(path)), true);
    },
    close: () => conn.close(),
  };
}

export function ftpsLink(conn: FtpsConnection): PartnerLink {
  const { client } = conn;
  return {
    clientProtocol: 'ftps-client',
    listFiles: async (dir) => {
      const files: SourceFile[] = [];
      for (const entry of await client.list(dir)) {
        if (!entry.isFile) continue;
        let modified = entry.modifiedAt;
        // LIST gives no parsed time (or only to the minute); MDTM is exact where the server has it.
        if (!modified) modified = await client.lastMod(posix.join(dir, entry.name)).catch(() => undefined);
        const mtime =
          modified && !Number.isNaN(modified.getTime()) ? Math.floor(modified.getTime() / 1000) : 0;
        files.push({ name: entry.name, size: entry.size, mtime });
      }
      return files;
    },
    download: (remotePath, local, options) => ftpsDownload(conn, remotePath, local, options),
    upload: (local, remotePath, options) => ftpsUpload(conn, local, remotePath, options),
    remove: async (path) => {
      await client.remove(path);
    },
    moveInto: async (path, dir) => {
      // MKD fails when the directory exists; the RNTO after it reports any real problem.
      await client.send(`MKD ${dir}`).catch(() => undefined);
      await client.rename(path, posix.join(dir, posix.basename(path)));
    },
    close: () => conn.close(),
  };
}
