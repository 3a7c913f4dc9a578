#!/bin/sh
# Installs what building and testing evalsched needs, when it is missing.
# Debian 12; apt-get runs only when a package is absent.
#
#	sh tests/install-deps.sh	everything make check needs
#	sh tests/install-deps.sh deb	what make deb needs, no more (the
#					image's first stage)
set -e

build="gcc make pkg-config libc6-dev libpq-dev libcurl4-openssl-dev
libssl-dev libjson-c-dev libbsd-dev"
deb="$build debhelper dpkg-dev fakeroot lintian"
# pgbouncer: tests/pgbouncer.t runs the supervisor through it, as
# through Supabase's pooler.
check="$deb postgresql postgresql-client pgbouncer mandoc perl python3
python3-psycopg2 tzdata procps clang libclang-rt-dev"

case ${1:-check} in
deb)	packages=$deb ;;
check)	packages=$check ;;
*)	echo "usage: sh tests/install-deps.sh [deb|check]" >&2; exit 64 ;;
esac

missing=
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
