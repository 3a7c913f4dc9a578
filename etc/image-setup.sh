#!/bin/sh
# The container image's second stage (the Dockerfile), and tests/image.t
# in a scratch root the same way: the package and what it depends on, a
# user of a fixed id, and the settings a container needs.
#
#	sh image-setup.sh PACKAGE.deb [ID]
#
# ID, 999 by default, is the user's and group's: fixed, so that a volume
# or a secret file on the host can be made theirs (chown 999:999).
set -eu

deb=$1
id=${2:-999}

# Made before the package, whose postinst then keeps it.
groupadd --system --gid "$id" evalsched
useradd --system --uid "$id" --gid evalsched --home-dir /var/lib/evalsched \
    --no-create-home --shell /usr/sbin/nologin --comment 'evalsched supervisor' \
    evalsched
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$deb"

# A drop-in, so that a later one or the environment overrides it.  The
# pid file goes in the spool, the user's and a volume: its lock keeps a
# second container off the same spool.  shutdown_grace fits docker's
# default 10 s stop timeout with the 2 s of SIGKILL grace and a second
# of database work.  Without -f, too, the log is the standard error.
cat > /etc/evalsched/conf.d/00-container.conf <<'CONF'
# The container image's settings (etc/image-setup.sh); a later drop-in
# or an EVALSCHED_ variable overrides them.
pidfile = /var/lib/evalsched/evalsched-supervisor.pid
shutdown_grace = 7
log = stderr
CONF
chmod 0644 /etc/evalsched/conf.d/00-container.conf
