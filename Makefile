# evalsched: GNU make.  `make`, `make check`, `make install`, `make demo`,
# `make bench`, `make fuzz`, `make deb`, `make image`.  Objects go under $(O) so that the plain and
# the sanitizer builds live side by side.

VERSION		= 0.1.0
PREFIX		?= /usr/local
SYSCONFDIR	?= /etc
BINDIR		= $(PREFIX)/bin
SBINDIR		= $(PREFIX)/sbin
LIBEXECDIR	= $(PREFIX)/libexec/evalsched
DATADIR		= $(PREFIX)/share/evalsched
MANDIR		= $(PREFIX)/share/man
SYSTEMDDIR	?= /lib/systemd/system
DESTDIR		?=
O		?= build

CC		?= cc
PKGS		= libpq libcurl json-c libbsd-overlay libcrypto
WARNINGS	= -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
		  -Wshadow -Wpointer-arith -Wcast-qual -Wsign-compare \
		  -Wformat=2 -Wno-format-nonliteral
CFLAGS		?= -O2 -g
SANITIZE	= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		  -fno-omit-frame-pointer
ALL_CFLAGS	= -std=gnu11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(EXTRA_CFLAGS) -Icommon \
		  $(shell pkg-config --cflags $(PKGS)) \
		  -DVERSION='"$(VERSION)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' \
		  -DLIBEXECDIR='"$(LIBEXECDIR)"' -DDATADIR='"$(DATADIR)"'
ALL_LDFLAGS	= $(LDFLAGS) $(EXTRA_LDFLAGS)

# Each program links only the libraries it calls, whether or not the
# toolchain links --as-needed by default (Debian's does, but not with a
# sanitizer): what a program loads is its cost at every start and in
# resident memory.  libcurl (and its thirty libraries) is the
# jobrunner's and the notifier's alone, libcrypto theirs for keys and
# signatures; the supervisor and evalschedctl check URLs with url.c.
SUPERVISOR_LDLIBS = $(shell pkg-config --libs libpq json-c libbsd-overlay)
CTL_LDLIBS	= $(shell pkg-config --libs libpq json-c libbsd-overlay)
JOBRUNNER_LDLIBS = $(shell pkg-config --libs libcurl json-c libbsd-overlay \
		    libcrypto)
NOTIFIER_LDLIBS	= $(shell pkg-config --libs libcurl json-c libbsd-overlay \
		    libcrypto)
# A unit test links what its objects need of them all.
TEST_LDLIBS	= -Wl,--as-needed $(shell pkg-config --libs $(PKGS))

COMMON_OBJ	= $(patsubst %.c,$(O)/%.o,$(wildcard common/*.c))
SUPERVISOR_OBJ	= $(patsubst %.c,$(O)/%.o,$(wildcard supervisor/*.c))
JOBRUNNER_OBJ	= $(patsubst %.c,$(O)/%.o,$(wildcard jobrunner/*.c))
CTL_OBJ		= $(patsubst %.c,$(O)/%.o,$(wildcard ctl/*.c))
NOTIFIER_OBJ	= $(patsubst %.c,$(O)/%.o,$(wildcard notifier/*.c))
UNIT_TESTS	= $(patsubst tests/unit/%.c,$(O)/tests/%,$(wildcard tests/unit/t_*.c))
PROGRAMS	= $(O)/evalsched-supervisor $(O)/evalsched-jobrunner \
		  $(O)/evalsched-notifier $(O)/evalschedctl $(O)/schema.sql
MANPAGES	= $(wildcard man/*.[58])

# The manuals and the sample name the programs' and files' places as
# they are for the default prefix; installed, they name the places of
# this installation (/usr for a package).  The trailing slashes keep an
# operator's /usr/local/libexec/evalsched-mail-alert as it is.
FIXPATHS	= sed -e 's|/usr/local/libexec/evalsched/|$(LIBEXECDIR)/|g' \
		      -e 's|/usr/local/share/evalsched/|$(DATADIR)/|g' \
		      -e 's|/etc/evalsched/|$(SYSCONFDIR)/evalsched/|g' \
		      -e 's|/etc/default/evalsched|$(SYSCONFDIR)/default/evalsched|g' \
		      -e 's|/etc/init.d/evalsched|$(SYSCONFDIR)/init.d/evalsched|g'

all: $(PROGRAMS) $(UNIT_TESTS)

$(O)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/libcommon.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(O)/evalsched-supervisor: $(SUPERVISOR_OBJ) $(O)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(SUPERVISOR_LDLIBS)

# A jobrunner is started for every run and what it loads is most of its
# cost.
$(O)/evalsched-jobrunner: $(JOBRUNNER_OBJ) $(O)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(JOBRUNNER_LDLIBS)

$(O)/evalschedctl: $(CTL_OBJ) $(O)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(CTL_LDLIBS)

$(O)/evalsched-notifier: $(NOTIFIER_OBJ) $(O)/libcommon.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(NOTIFIER_LDLIBS)

# Unit tests may test a program's own files: tests/unit/t_foo.c links
# the objects its "// link:" line names besides libcommon.a.
$(O)/tests/%: tests/unit/%.c $(O)/libcommon.a $(SUPERVISOR_OBJ) $(JOBRUNNER_OBJ) $(CTL_OBJ) \
    $(NOTIFIER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -o $@ $< \
	    $(addprefix $(O)/,$(shell sed -n 's|^// link: ||p' $<)) \
	    $(O)/libcommon.a $(TEST_LDLIBS)

# The standalone schema is the application's tables plus our additions.
$(O)/schema.sql: etc/application-schema.sql etc/schema-additions.sql
	@mkdir -p $(dir $@)
	cat $^ > $@

install: $(PROGRAMS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DATADIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/evalsched/conf.d $(DESTDIR)$(SYSCONFDIR)/init.d \
	    $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(SYSTEMDDIR)
	install -m 755 $(O)/evalsched-supervisor $(DESTDIR)$(SBINDIR)/
	install -m 755 $(O)/evalschedctl $(DESTDIR)$(BINDIR)/
	install -m 755 $(O)/evalsched-jobrunner $(DESTDIR)$(LIBEXECDIR)/
	install -m 755 $(O)/evalsched-notifier $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 $(O)/schema.sql $(DESTDIR)$(DATADIR)/schema.sql
	install -m 644 etc/schema-additions.sql $(DESTDIR)$(DATADIR)/
	install -m 644 etc/grants.sql etc/policies.sql $(DESTDIR)$(DATADIR)/
	install -D -m 644 etc/bash-completion-evalschedctl $(DESTDIR)$(PREFIX)/share/bash-completion/completions/evalschedctl
	@# Samples for node_exporter's textfile collector (evalschedctl metrics).
	install -d $(DESTDIR)$(DATADIR)/examples
	for f in evalsched-metrics.service evalsched-metrics.timer \
	    evalsched-metrics.cron; do \
	    sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	        etc/$$f > $(DESTDIR)$(DATADIR)/examples/$$f; done
	@# The container image where the application runs: Render, Compose.
	install -m 644 examples/render-worker.yaml examples/compose-service.yml \
	    $(DESTDIR)$(DATADIR)/examples/
	for m in $(MANPAGES); do $(FIXPATHS) $$m > \
	    $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m#man/}; done
	install -m 644 etc/conf.d-README \
	    $(DESTDIR)$(SYSCONFDIR)/evalsched/conf.d/README
	@# A configuration is the operator's: never overwrite it.
	[ -e $(DESTDIR)$(SYSCONFDIR)/evalsched/evalsched.conf ] || \
	    { $(FIXPATHS) etc/evalsched.conf > \
	    $(DESTDIR)$(SYSCONFDIR)/evalsched/evalsched.conf && \
	    chmod 640 $(DESTDIR)$(SYSCONFDIR)/evalsched/evalsched.conf; }
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/evalsched ] || \
	    install -m 644 etc/default-evalsched \
	    $(DESTDIR)$(SYSCONFDIR)/default/evalsched
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    etc/init.d-evalsched > $(DESTDIR)$(SYSCONFDIR)/init.d/evalsched
	chmod 755 $(DESTDIR)$(SYSCONFDIR)/init.d/evalsched
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    etc/evalsched.service > $(DESTDIR)$(SYSTEMDDIR)/evalsched.service

# The test suite runs the installed layout of a sanitizer build.
SAN_O		= build/san
SAN_ROOT	= $(CURDIR)/build/san-root
TEST_PREFIX	= /usr/local

deps:
	@sh tests/install-deps.sh

deps-deb:
	@sh tests/install-deps.sh deb

build-werror:
	$(MAKE) O=build EXTRA_CFLAGS=-Werror all

build-san:
	$(MAKE) O=$(SAN_O) CFLAGS='-O1 -g' EXTRA_CFLAGS='-Werror $(SANITIZE)' \
	    EXTRA_LDFLAGS='$(SANITIZE)' all
	rm -rf $(SAN_ROOT)
	$(MAKE) O=$(SAN_O) CFLAGS='-O1 -g' EXTRA_CFLAGS='-Werror $(SANITIZE)' \
	    EXTRA_LDFLAGS='$(SANITIZE)' DESTDIR=$(SAN_ROOT) \
	    PREFIX=$(TEST_PREFIX) SYSCONFDIR=$(TEST_PREFIX)/etc \
	    SYSTEMDDIR=$(TEST_PREFIX)/lib/systemd/system install

# make check: both builds side by side, one job per processor (it is
# where a build from clean spends its time).  Then the suite, three files
# at a time: most of a file's time is spent waiting (for a run_timeout, a
# lease, the turn of a minute), and its bounds hold on a machine busier
# than that.  The longest files start first, so that none of them starts
# last and leaves the others' processors idle at the end.  Beside it, the
# package's tests, one after the other (image.t takes the package that
# package.t built), their output shown once the suite is done: building
# the package takes both processors for a few seconds, then lintian and
# dpkg one.  And the fuzzers, niced: the suite leaves most of a
# processor idle while its files wait, which is what they take (their
# brief run is a time, not a number of runs).
NPROC		:= $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
CHECK_JOBS	?= 3
CHECK_FIRST	= tests/review20.t tests/backoff.t tests/hostile-secrets.t \
		  tests/ctl.t tests/race.t tests/metricrules.t tests/alerts.t \
		  tests/blame.t tests/sizes.t tests/jobrunner.t tests/fairness.t \
		  tests/searchpath.t tests/retention.t tests/cli.t tests/outage.t
CHECK_TESTS	= $(CHECK_FIRST) $(filter-out $(CHECK_FIRST) tests/package.t \
		  tests/image.t,$(wildcard tests/*.t)) $(SAN_O)/tests/t_*
CHECK_PACKAGE	= tests/package.t tests/image.t

check: deps lint
	$(MAKE) -j$(NPROC) build-werror build-san
	@rm -f build/check-package.* build/check-fuzz.*
	@{ prove --timer $(CHECK_PACKAGE) >build/check-package.log 2>&1; \
	    echo $$? >build/check-package.status; } & \
	{ nice -n 19 sh tests/fuzz/run.sh brief >build/check-fuzz.log 2>&1; \
	    echo $$? >build/check-fuzz.status; } & \
	EVALSCHED_ROOT=$(SAN_ROOT) EVALSCHED_PREFIX=$(TEST_PREFIX) \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
	    prove -j$(CHECK_JOBS) --timer $(CHECK_TESTS); suite=$$?; \
	wait; echo "prove --timer $(CHECK_PACKAGE)"; \
	cat build/check-package.log; \
	echo "sh tests/fuzz/run.sh brief"; cat build/check-fuzz.log; \
	test $$suite -eq 0 && test "$$(cat build/check-package.status)" = 0 \
	    && test "$$(cat build/check-fuzz.status)" = 0

lint:
	mandoc -Tlint -W warning $(MANPAGES)
	sh -n etc/init.d-evalsched

fuzz:
	@sh tests/fuzz/run.sh long

demo: deps all
	@sh tests/demo.sh

bench: deps all
	@sh tests/bench/run.sh

# The Debian package, built from a copy of the tree so that the .deb (and
# its .buildinfo and .changes) land in build/deb, and checked by lintian.
deb: deps-deb
	rm -rf build/deb
	mkdir -p build/deb/src
	tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C build/deb/src
	cd build/deb/src && dpkg-buildpackage -us -uc -b -J
	rm -rf build/deb/src
	lintian --fail-on error build/deb/evalsched_*.deb
	@ls build/deb/*.deb

# The container image (Dockerfile): with docker where its daemon answers,
# else podman.  Without either, tests/image.t does what the image's
# second stage does in a scratch root.
IMAGE		?= evalsched:$(VERSION)
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; \
	then set -x; docker build -t $(IMAGE) .; \
	elif command -v podman >/dev/null 2>&1; then \
	    set -x; podman build -t $(IMAGE) .; \
	elif command -v docker >/dev/null 2>&1; then \
	    echo "make image: docker is installed but its daemon does not" \
	        "answer (docker info fails), and there is no podman:" \
	        "start the daemon, or install podman" >&2; exit 1; \
	else \
	    echo "make image: neither docker nor podman is installed: the" \
	        "image needs one of them (tests/image.t installs the same" \
	        "package into a scratch root instead)" >&2; exit 1; \
	fi

clean:
	rm -rf build

.PHONY: all install deps deps-deb build-werror build-san check lint fuzz demo \
	bench deb image clean

-include $(patsubst %.o,%.d,$(COMMON_OBJ) $(SUPERVISOR_OBJ) $(JOBRUNNER_OBJ) $(CTL_OBJ) \
    $(NOTIFIER_OBJ))
