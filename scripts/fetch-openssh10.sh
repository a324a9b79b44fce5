#!/usr/bin/env bash
# Fetch OpenSSH 10 (Debian bookworm-backports' openssh-client and openssh-server) and unpack it into a cache
# folder for the post-quantum interop tests, without touching the system: a private apt sources list and
# package lists under the cache, `apt-get download` (no install), `dpkg-deb -x`. Tests find the folder at
# ${FERRY_OPENSSH10_DIR:-$HOME/.cache/ferry/openssh10} and skip with a message when it is absent.
set -euo pipefail

dest=${FERRY_OPENSSH10_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/openssh10}
if [ -x "$dest/root/usr/bin/ssh" ] && [ -x "$dest/root/usr/sbin/sshd" ]; then
  echo "openssh10: cached in $dest ($("$dest/root/usr/bin/ssh" -V 2>&1))"
  exit 0
fi

work=$(mktemp -d /tmp/ferry-openssh10-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/debs"
echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$work/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$work/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::Archives=$work/archives"
  -o "Dir::Cache::pkgcache=$work/pkgcache.bin"
  -o "Dir::Cache::srcpkgcache=$work/srcpkgcache.bin"
  -o "APT::Get::List-Cleanup=0"
  -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" update -qq
(
  cd "$work/debs"
  apt-get "${apt_opts[@]}" download -qq openssh-client/bookworm-backports openssh-server/bookworm-backports \
    openssh-sftp-server/bookworm-backports
)
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/root"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$dest.tmp/root"
  basename "$deb" >>"$dest.tmp/packages.txt"
done
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "openssh10: unpacked into $dest ($("$dest/root/usr/bin/ssh" -V 2>&1))"
