#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for tests and benchmarks, on loopback.
#   scripts/pg.sh start DIR PORT   initdb + start; roles loader (SCRAM) and loader_md5 (MD5), databases dw, dw2
#   scripts/pg.sh stop DIR         stop it (fast)
#   scripts/pg.sh free-port        print a free TCP port on 127.0.0.1
# Superuser access: psql -h DIR -p PORT -U postgres (trust over the socket in DIR).
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cmd=${1:-}
case "$cmd" in
free-port)
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
	;;
start)
	dir=$2 port=$3
	mkdir -p "$dir"
	chmod 755 "$dir"
	# every parent must be traversable by user postgres
	p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=md5 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; exit 1; }
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" start \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB" >/dev/null \
		|| { cat "$dir/server.log" >&2; exit 1; }
	# host auth is md5 in pg_hba: SCRAM-hashed passwords still authenticate with SCRAM
	as_pg "$PGBIN/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SET password_encryption = 'scram-sha-256';
CREATE ROLE loader LOGIN PASSWORD 'loader-scram-pw';
SET password_encryption = 'md5';
CREATE ROLE loader_md5 LOGIN PASSWORD 'loader-md5-pw';
CREATE DATABASE dw OWNER loader;
CREATE DATABASE dw2 OWNER loader;
GRANT ALL ON DATABASE dw TO loader_md5;
SQL
	as_pg "$PGBIN/psql" -q -h "$dir" -p "$port" -U postgres -d dw -c "GRANT ALL ON SCHEMA public TO loader_md5" >/dev/null
	;;
stop)
	dir=$2
	[ -d "$dir/data" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	sed -n '2,6p' "$0" >&2
	exit 2
	;;
esac
