# evalsched's container image: Debian 12 and the project's own package.
#
#	make image			(docker build or podman build)
#	docker run -d --name evalsched --stop-timeout 15 \
#	    -e EVALSCHED_DATABASE='postgresql://...' \
#	    -e NEXT_PUBLIC_APP_URL=https://evals.example.org \
#	    -e SUPABASE_SERVICE_ROLE_KEY_FILE=/run/secrets/service-role-key \
#	    -e EVALSCHED_NODE_NAME=evalsched-1 \
#	    -v evalsched-spool:/var/lib/evalsched evalsched:0.1.0
#
# The configuration comes from the environment (evalsched.conf(5),
# ENVIRONMENT); "docker run --rm ... evalsched:0.1.0 evalsched-supervisor
# -n" checks it, listing where each setting came from.  The README's
# "Replacing the application's worker" has Render's and Compose's.

# The first stage builds the .deb as on any Debian 12 machine.
FROM debian:12-slim AS build
RUN apt-get update -q && \
    apt-get install -y -q --no-install-recommends make && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make deb

# The second installs it, with what it depends on and nothing else
# (etc/image-setup.sh, which tests/image.t runs the same way in a scratch
# root where there is no docker).
FROM debian:12-slim
COPY --from=build /src/build/deb/evalsched_*.deb /tmp/
COPY etc/image-setup.sh /tmp/
RUN apt-get update -q && \
    sh /tmp/image-setup.sh /tmp/evalsched_*.deb && \
    rm -rf /var/lib/apt/lists/* /tmp/*

# Container managers set "container"; -n then knows the environment is
# the service's own, not an operator's shell.
ENV container=oci

# The unprivileged evalsched user, its id fixed (999) so that a volume or
# a secret file on the host can be made its own.
USER 999:999

# The spool: outcomes that wait out a database outage, and the pid file
# whose lock keeps a second container off the same volume.  Give each
# container its own volume and a stable EVALSCHED_NODE_NAME: a new
# container under a new host name would leave the spool's files alone.
VOLUME /var/lib/evalsched

# evalschedctl status: 0 ok, 1 degraded (the application failing, a
# schedule late: restarting this container mends neither, and status
# says which), 2 down (no live supervisor, this one included), other
# statuses the database or the configuration unusable.  Healthy is 0 or
# 1; its first line is what docker inspect shows.
HEALTHCHECK --interval=60s --timeout=20s --start-period=60s --retries=3 \
    CMD out=$(evalschedctl status 2>&1); s=$?; \
        printf '%s\n' "$out" | head -n 1; [ "$s" -le 1 ]

# The supervisor is PID 1: it takes SIGTERM through a signalfd (blocked
# signals reach PID 1, ignored ones would not) and reaps every child,
# orphaned grandchildren included, with waitpid(-1), so no init is
# needed.  It stops within shutdown_grace (7 s here, image-setup.sh)
# plus 2 s: under docker's default 10 s.  Logs go to the standard error.
STOPSIGNAL SIGTERM
CMD ["evalsched-supervisor", "-f"]
