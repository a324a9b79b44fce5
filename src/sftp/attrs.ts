// Maps core FileStat to SFTP ATTRS and SFTP ATTRS to core SetAttrs (policy stays in core).
import type { FileStat, SetAttrs } from '../core/types.js';
import type { Attrs } from './wire/reader.js';

export function attrsFromStat(stat: FileStat): Attrs {
  return {
    size: stat.size,
    uid: stat.uid,
    gid: stat.gid,
    permissions: stat.mode,
    atime: stat.atime,
    mtime: stat.mtime,
  };
}

/** uid/gid are passed through as sent: whether a user may chown is the core's decision. */
export function setAttrsFromAttrs(attrs: Attrs): SetAttrs {
  const set: SetAttrs = {};
  if (attrs.size !== undefined) set.size = attrs.size;
  if (attrs.permissions !== undefined) set.mode = attrs.permissions & 0o7777;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) {
    set.atime = attrs.atime;
    set.mtime = attrs.mtime;
  }
  if (attrs.uid !== undefined && attrs.gid !== undefined) {
    set.uid = attrs.uid;
    set.gid = attrs.gid;
  }
  return set;
}

export function hasSetAttrs(attrs: SetAttrs): boolean {
  return Object.keys(attrs).length > 0;
}
