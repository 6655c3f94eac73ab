#!/bin/sh
# busybox-rootfs.sh OUT.tar: a tiny, deterministic rootfs tarball from the host's static busybox.
#
# /bin/busybox plus one symlink per applet (`busybox --list`) in /bin, /etc/passwd (root,
# nobody), /etc/group, /tmp (1777), /root and /var/www/index.html ("hello from kubeplay").
# Sorted entries, mtime 0, owner 0:0, so the same host busybox always gives the same bytes
# (and so the same layer digest). Tests and the demo import it with
#   kubeplay image import OUT.tar localhost/busybox:latest --change 'CMD ["/bin/sh"]'
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUT.tar" >&2
    exit 2
fi
out=$1
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "$0: $busybox: not found (install busybox-static)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/busybox-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
(
    cd "$root/bin"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$applet"
    done
)
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo "hello from kubeplay" >"$root/var/www/index.html"
chmod 0755 "$root" "$root/bin" "$root/etc" "$root/var" "$root/var/www"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/var/www/index.html"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

tar --create --file "$out" --directory "$root" --sort=name --mtime=@0 \
    --owner=0 --group=0 --numeric-owner --format=gnu .
