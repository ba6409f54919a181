#!/usr/bin/env python3
"""Cairn client-compatibility scenarios for psycopg 3.

Runs the scenarios of ../scenarios.json against a PostgreSQL-speaking server (PostgreSQL itself, or
Cairn's proxy, which must be indistinguishable from it) through psycopg 3 and its bundled libpq.

    python scenarios.py --host H --port P --user U --password W --database D
                        [--sslmode disable|require|verify-full] [--sslrootcert FILE]
                        [--only name1,name2,...] [--list]

Prints one JSON line per scenario run: {"scenario": ..., "ok": true|false, "detail": ...}.
Exits 0 when every requested scenario ran (whatever its outcome), 2 on bad arguments.
Without --only every scenario runs except tls_connect, which needs a TLS-enabled server.
--list prints the scenario names, one a line, and exits.

Where the wire traffic itself is the point (simple vs extended protocol, pipelining, named
statements, binary formats), the scenario turns on libpq's protocol trace and asserts on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg import errors, pq, sql
from psycopg.types import TypeInfo
from psycopg.types.numeric import Int4

SCENARIOS = [
    "connect_scram",
    "simple_query",
    "multi_statement",
    "prepared_reuse_across_tx",
    "binary_results",
    "portal_row_limit",
    "copy_in",
    "copy_out",
    "listen_notify",
    "cancel",
    "error_mid_pipeline",
    "set_not_leaking",
    "catalog_queries",
    "terminate_backend",
    "tls_connect",
]
# Run only when asked for with --only: it needs a server with TLS on.
NOT_BY_DEFAULT = {"tls_connect"}
SCENARIO_TIMEOUT = 10.0  # seconds, per scenario
WAIT = 5.0  # seconds allowed for a notification, a cancel or a termination to arrive


class CheckFailed(Exception):
    """An assertion of a scenario did not hold."""


def expect(cond: object, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def expect_eq(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def rand() -> str:
    return secrets.token_hex(4)


def one(conn: psycopg.Connection, query: str | sql.Composable, params: tuple | None = None) -> object:
    """The single value of a single-row, single-column query (simple protocol when no params)."""
    row = conn.execute(query, params).fetchone()
    expect(row is not None, f"no row from {query!r}")
    return row[0]


class Scenario:
    """What a scenario function gets: argument values and a connection factory that cleans up."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.conns: list[psycopg.Connection] = []

    def connect(self, **overrides: object) -> psycopg.Connection:
        a = self.args
        params: dict[str, object] = {
            "host": a.host,
            "port": a.port,
            "user": a.user,
            "password": a.password,
            "dbname": a.database,
            "sslmode": a.sslmode,
            "connect_timeout": 5,
        }
        if a.sslrootcert:
            params["sslrootcert"] = a.sslrootcert
        params.update(overrides)
        # autocommit: statements go out as written; transactions are opened explicitly where wanted.
        conn = psycopg.connect(autocommit=True, **params)
        self.conns.append(conn)
        return conn

    def close_all(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.close()


@contextlib.contextmanager
def wire_trace(conn: psycopg.Connection) -> Iterator[list[str]]:
    """libpq's protocol trace for the block: the list is filled with its lines when the block ends.

    Lines look like 'F\\t23\\tQuery\\t "select 1"' (F: frontend to server, B: backend to client).
    """
    lines: list[str] = []
    with tempfile.TemporaryFile() as f:
        # psycopg fdopen()s the descriptor and never closes that stream (untrace only flushes it):
        # hand it a duplicate so the stream never points at a descriptor closed or reused later.
        conn.pgconn.trace(os.dup(f.fileno()))
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield lines
        finally:
            conn.pgconn.untrace()  # flushes the trace stream
            f.seek(0)
            lines.extend(f.read().decode("utf-8", "replace").splitlines())


def messages(trace: list[str], sender: str, name: str) -> list[str]:
    """Trace lines of one message type from one side ('F' or 'B')."""
    out = []
    for line in trace:
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == sender and parts[2] == name:
            out.append(line)
    return out


# --------------------------------------------------------------------------------------------------
# Scenarios. Each returns the detail of what it checked, or raises.


def connect_scram(s: Scenario) -> str:
    # require_auth (libpq >= 16) makes libpq itself refuse any method but SCRAM-SHA-256, so a
    # server that asked for trust, password or md5 fails the connection.
    conn = s.connect(require_auth="scram-sha-256")
    expect_eq(one(conn, "select current_user"), s.args.user, "current_user")
    expect(conn.pgconn.used_password, "libpq reports the password was not used")
    # A wrong password must be refused the way PostgreSQL refuses it.
    try:
        s.connect(password=s.args.password + "-wrong")
        raise CheckFailed("a wrong password was accepted")
    except psycopg.OperationalError as e:
        expect("password authentication failed" in str(e), f"wrong password refused with an unexpected error: {e}")
    return (
        f"SCRAM-SHA-256 required by the client and done; current_user = {s.args.user!r}; "
        "a wrong password is refused with 'password authentication failed'"
    )


def simple_query(s: Scenario) -> str:
    conn = s.connect()
    with wire_trace(conn) as trace:
        # No parameters: psycopg sends this as a simple-protocol Query message.
        cur = conn.execute("select 41 + 1 as answer, 'héllo'::text as t")
        row = cur.fetchone()
    expect_eq(row, (42, "héllo"), "row")
    expect_eq([d.name for d in cur.description or []], ["answer", "t"], "column names")
    expect_eq(len(messages(trace, "F", "Query")), 1, "Query messages sent")
    expect_eq(len(messages(trace, "F", "Parse")), 0, "Parse messages sent")
    return "simple-protocol Query returned answer=42, t='héllo' (UTF-8 round trip)"


def multi_statement(s: Scenario) -> str:
    conn = s.connect()
    with wire_trace(conn) as trace:
        cur = conn.execute("select 1 as one; select 2 as two, 'x' as x")
        first = cur.fetchall()
        first_cols = [d.name for d in cur.description or []]
        expect(cur.nextset(), "no second result set")
        second = cur.fetchall()
        second_cols = [d.name for d in cur.description or []]
        expect(not cur.nextset(), "an unexpected third result set")
    expect_eq((first_cols, first), (["one"], [(1,)]), "first result")
    expect_eq((second_cols, second), (["two", "x"], [(2, "x")]), "second result")
    expect_eq(len(messages(trace, "F", "Query")), 1, "Query messages sent")
    expect_eq(len(messages(trace, "B", "RowDescription")), 2, "RowDescriptions received")
    expect_eq(len(messages(trace, "B", "ReadyForQuery")), 1, "ReadyForQuery received")
    return "one Query message with two statements: two result sets [(1,)] and [(2,'x')], one ReadyForQuery"


def prepared_reuse_across_tx(s: Scenario) -> str:
    conn = s.connect()
    query = "select %s::int * 2"
    values = [3, -7, 0, 21, 123456]
    with wire_trace(conn) as trace:
        for v in values:
            with conn.transaction():
                expect_eq(conn.info.transaction_status, pq.TransactionStatus.INTRANS, "in transaction")
                # prepare=True: a named server-side statement, parsed once and re-bound every time.
                # Int4: psycopg picks int2/int4/int8/numeric from a Python int's size, and every
                # distinct parameter type would be a statement (and a Parse) of its own.
                got = conn.execute(query, (Int4(v),), prepare=True).fetchone()
                expect_eq(got, (v * 2,), f"result for {v}")
            expect_eq(conn.info.transaction_status, pq.TransactionStatus.IDLE, "idle after commit")
    parses = messages(trace, "F", "Parse")
    named = [p for p in parses if '"select $1::int * 2"' in p]
    expect_eq(len(named), 1, "Parse messages for the statement")
    name = named[0].split("\t")[3].split('"')[1]
    expect(name != "", "the statement was parsed unnamed")
    binds = [b for b in messages(trace, "F", "Bind") if f' "{name}" ' in b]
    expect_eq(len(binds), len(values), f"Binds of statement {name!r}")
    # Only the client's side of the wire is asserted: a pooler may give the statement another
    # name on the server, and prepare it again on each server session it lands on, so
    # pg_prepared_statements of whatever session answers a later query proves nothing.
    return (
        f"statement {name!r} parsed once, bound {len(values)} times in {len(values)} transactions; x*2 right each time"
    )


def binary_results(s: Scenario) -> str:
    conn = s.connect()
    cur = conn.cursor(binary=True)  # extended protocol, every result column in binary format
    cur.execute(
        "select 123456789012::int8, 3.5::float8, '\\xdeadbeef'::bytea, "
        "'2024-01-02 03:04:05+00'::timestamptz, 12345.678::numeric, 'héllo'::text, true, "
        "'{1,2,3}'::int4[], '2024-02-29'::date, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"
    )
    row = cur.fetchone()
    res = cur.pgresult
    expect(res is not None, "no result")
    formats = [res.fformat(i) for i in range(res.nfields)]  # type: ignore[union-attr]
    expect_eq(formats, [1] * 10, "result column formats (1 = binary)")
    expected = (
        123456789012,
        3.5,
        b"\xde\xad\xbe\xef",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        Decimal("12345.678"),
        "héllo",
        True,
        [1, 2, 3],
        date(2024, 2, 29),
        UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    )
    expect(row is not None, "no row")
    got = tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)  # type: ignore[union-attr]
    expect_eq(got, expected, "decoded values")
    return "10 columns (int8, float8, bytea, timestamptz, numeric, text, bool, int4[], date, uuid) in binary, all equal"


def portal_row_limit(s: Scenario) -> str:
    # psycopg has no API for a protocol-level Execute row limit; its server-side ("named") cursor is
    # a SQL cursor: DECLARE, then FETCH FORWARD <itersize> per batch, inside a transaction.
    conn = s.connect()
    name = f"compat_cur_{rand()}"
    batches: list[int] = []
    total = 0
    with wire_trace(conn) as trace, conn.transaction(), conn.cursor(name=name) as cur:
        cur.itersize = 100
        cur.execute("select generate_series(1, 1000)")
        open_cursors = [r[0] for r in conn.execute("select name from pg_cursors").fetchall()]
        expect(name in open_cursors, f"cursor {name} not in pg_cursors {open_cursors}")
        while True:
            rows = cur.fetchmany(100)
            if not rows:
                break
            batches.append(len(rows))
            total += sum(r[0] for r in rows)
    expect_eq(total, 500500, "sum of the 1000 values")
    expect_eq(batches, [100] * 10, "rows per fetch")
    fetches = [m for m in messages(trace, "F", "Query") + messages(trace, "F", "Parse") if "FETCH FORWARD 100" in m]
    expect(len(fetches) >= 10, f"only {len(fetches)} FETCH statements on the wire")
    return f"cursor {name} in pg_cursors; {len(fetches)} FETCH FORWARD 100 round trips, 10 batches of 100, sum 500500"


def copy_in(s: Scenario) -> str:
    conn = s.connect()
    table = f"compat_copy_in_{rand()}"
    ident = sql.Identifier(table)
    conn.execute(sql.SQL("create table {} (id int not null, label text)").format(ident))
    try:
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("copy {} (id, label) from stdin").format(ident)) as cp:
                for i in range(1, 1001):
                    # every 100th label is NULL; the others need escaping (tab, backslash, non-ASCII)
                    cp.write_row((i, None if i % 100 == 0 else f"row\t{i}\\é"))
            expect_eq(cur.rowcount, 1000, "rows reported by COPY")
        count, total, labels = conn.execute(
            sql.SQL("select count(*), sum(id), count(label) from {}").format(ident)
        ).fetchone()  # type: ignore[misc]
        expect_eq((count, total, labels), (1000, 500500, 990), "count, sum(id), count(label)")
        expect_eq(one(conn, sql.SQL("select label from {} where id = 7").format(ident)), "row\t7\\é", "label of id 7")
    finally:
        conn.execute(sql.SQL("drop table if exists {}").format(ident))
    return f"COPY FROM STDIN into {table}: 1000 rows, sum 500500, 10 NULLs, escaped text intact; table dropped"


def copy_out(s: Scenario) -> str:
    conn = s.connect()
    chunks = []
    with conn.cursor() as cur:
        with cur.copy("copy (select generate_series(1, 100)) to stdout") as cp:
            for data in cp:
                chunks.append(bytes(data))
        expect_eq(cur.rowcount, 100, "rows reported by COPY")
    lines = b"".join(chunks).decode().splitlines()
    expect_eq(len(lines), 100, "lines")
    expect_eq(sum(int(x) for x in lines), 5050, "sum of lines")
    return "COPY TO STDOUT: 100 lines summing to 5050"


def listen_notify(s: Scenario) -> str:
    token = rand()
    channel, payload = f"chan_{token}", f"payload-{token}"
    a = s.connect()
    a.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    b = s.connect()
    # The pid in the notification is the server session's that ran NOTIFY. (BackendKeyData's pid
    # is not compared with it: a pooler hands out its own pid and key for cancelling.)
    b_pid = one(b, "select pg_backend_pid()")
    b.execute(sql.SQL("NOTIFY {}, {}").format(sql.Identifier(channel), sql.Literal(payload)))
    got = list(a.notifies(timeout=WAIT, stop_after=1))
    expect(got, f"no notification within {WAIT:g} s")
    n = got[0]
    expect_eq((n.channel, n.payload, n.pid), (channel, payload, b_pid), "notification (channel, payload, pid)")
    return f"A got NOTIFY {channel} '{payload}' from B's pid {b_pid}"


def cancel(s: Scenario) -> str:
    conn = s.connect()
    # cancel_safe() sends the CancelRequest on its own connection; it may be called from another
    # thread while this one is blocked in execute().
    timer = threading.Timer(0.5, conn.cancel_safe)
    timer.daemon = True
    started = time.monotonic()
    timer.start()
    try:
        conn.execute("select pg_sleep(30)")
        raise CheckFailed("pg_sleep(30) was not cancelled")
    except errors.QueryCanceled as e:
        expect_eq(e.sqlstate, "57014", "SQLSTATE")
    finally:
        timer.cancel()
    elapsed = time.monotonic() - started
    expect(elapsed < WAIT, f"cancelled only after {elapsed:.1f} s")
    expect_eq(one(conn, "select 1"), 1, "select 1 on the same connection")
    return f"cancel_safe() after 0.5 s: SQLSTATE 57014 after {elapsed:.2f} s; the connection still answers"


def error_mid_pipeline(s: Scenario) -> str:
    conn = s.connect()
    raised: list[psycopg.Error] = []

    def step(call: Callable[[], object]) -> None:
        try:
            call()
        except psycopg.Error as e:
            raised.append(e)

    with wire_trace(conn) as trace, conn.pipeline() as p:
        c1 = conn.cursor()
        c1.execute("select 1 as first")
        # PostgreSQL flushes an ErrorResponse at once, without waiting for the Sync, and psycopg
        # reads whatever has arrived each time it sends: the error surfaces in whichever call
        # comes after it arrived (usually sync(), sometimes the next execute()). Whatever raises
        # after it can only be psycopg's PipelineAborted for the skipped statement.
        c2 = conn.cursor()
        step(lambda: c2.execute("select 1/0"))
        c3 = conn.cursor()
        step(lambda: c3.execute("select 3 as third"))
        step(p.sync)
        expect(raised, "no error from the pipeline")
        expect_eq(raised[0].sqlstate, "22012", f"SQLSTATE of the failing statement ({type(raised[0]).__name__})")
        later = [f"{type(e).__name__}: {e}" for e in raised[1:] if not isinstance(e, errors.PipelineAborted)]
        expect(not later, f"unexpected errors after the first: {later}")
        expect_eq(c1.fetchall(), [(1,)], "result of the first statement")
        # After an error the server skips everything up to the Sync: no result for the third.
        try:
            c3.fetchall()
            raise CheckFailed("the statement after the error returned rows")
        except psycopg.ProgrammingError:
            pass
    # All three statements went out before the (single) Sync of the pipeline.
    kinds = [line.split("\t")[2] for line in trace if line.startswith("F\t")]
    first_sync = kinds.index("Sync")
    expect_eq(kinds[:first_sync].count("Execute"), 3, "Executes sent before the first Sync")
    expect_eq(len(messages(trace, "B", "RowDescription")), 1, "RowDescriptions received")
    expect_eq(one(conn, "select 1"), 1, "select 1 after the pipeline")
    return "3 statements pipelined before one Sync: first returned 1, second failed 22012, third skipped; conn usable"


def set_not_leaking(s: Scenario) -> str:
    leak = f"leak_test_{rand()}"
    probe = "select current_setting('statement_timeout'), current_setting('application_name')"
    baseline = s.connect()
    defaults = baseline.execute(probe).fetchone()
    baseline.close()
    expect(defaults is not None and defaults[0] != "1234ms" and defaults[1] != leak, f"odd defaults {defaults}")

    a = s.connect()
    a.execute(sql.SQL("SET application_name = {}").format(sql.Literal(leak)))
    a.execute("SET statement_timeout = '1234ms'")
    expect_eq(a.info.parameter_status("application_name"), leak, "ParameterStatus application_name on A")

    b = s.connect()  # opened while A is open
    expect_eq(b.execute(probe).fetchone(), defaults, "B's (statement_timeout, application_name)")
    expect_eq(one(b, "show statement_timeout"), defaults[0], "B's SHOW statement_timeout")  # type: ignore[index]
    expect(b.info.parameter_status("application_name") != leak, "B got A's application_name as ParameterStatus")

    with a.transaction():
        expect_eq(a.execute(probe).fetchone(), ("1234ms", leak), "A's own settings in a later transaction")
    a.close()

    c = s.connect()  # opened after A is gone: a recycled server session must have been reset
    expect_eq(c.execute(probe).fetchone(), defaults, "C's (statement_timeout, application_name) after A closed")
    return f"A keeps 1234ms/{leak}; B (A open) and C (A closed) see the defaults {tuple(defaults)}"  # type: ignore[arg-type]


def catalog_queries(s: Scenario) -> str:
    conn = s.connect()
    version = one(conn, "select pg_catalog.version()")
    expect("PostgreSQL" in str(version), f"version() = {version!r}")
    expect_eq(one(conn, "SHOW TRANSACTION ISOLATION LEVEL"), "read committed", "transaction isolation")
    schemas = one(conn, "select current_schemas(true)")
    expect(isinstance(schemas, list) and "pg_catalog" in schemas, f"current_schemas(true) = {schemas!r}")
    tables = [
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'pg_catalog' order by 1"
        ).fetchall()
    ]
    expect("pg_class" in tables, f"information_schema.tables lists {len(tables)} pg_catalog tables, no pg_class")
    nsp = [r[0] for r in conn.execute("select n.nspname from pg_catalog.pg_namespace n order by 1").fetchall()]
    expect("public" in nsp and "pg_catalog" in nsp, f"pg_namespace = {nsp}")
    # psycopg's own catalog query (pg_type) for type introspection.
    info = TypeInfo.fetch(conn, "int4")
    expect(info is not None, "TypeInfo.fetch(int4) found nothing")
    expect_eq((info.oid, info.array_oid), (23, 1007), "int4 oid and array oid")  # type: ignore[union-attr]
    # ParameterStatus values reported at startup agree with SHOW.
    for name in ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone"):
        expect_eq(conn.info.parameter_status(name), one(conn, sql.SQL("show {}").format(sql.Identifier(name))), name)
    for name in ("integer_datetimes", "standard_conforming_strings"):
        expect_eq(conn.info.parameter_status(name), "on", name)
    return (
        f"version() has PostgreSQL; read committed; current_schemas has pg_catalog; {len(tables)} pg_catalog tables; "
        f"{len(nsp)} namespaces incl. public; pg_type int4 = 23/1007; ParameterStatus matches SHOW"
    )


def terminate_backend(s: Scenario) -> str:
    a = s.connect()
    # The server session's pid, as the server knows it (BackendKeyData's pid may be a pooler's own).
    pid = one(a, "select pg_backend_pid()")
    outcome: dict[str, object] = {}

    def sleeper() -> None:
        try:
            a.execute("select pg_sleep(30)")
            outcome["error"] = None
        except Exception as e:  # noqa: BLE001 - reported below
            outcome["error"] = e
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    time.sleep(0.5)
    b = s.connect()
    started = time.monotonic()
    expect_eq(one(b, "select pg_terminate_backend(%s)", (pid,)), True, "pg_terminate_backend result")
    thread.join(WAIT)
    expect(not thread.is_alive(), f"A's query still running {WAIT:g} s after pg_terminate_backend")
    err = outcome["error"]
    expect(err is not None, "A's pg_sleep(30) returned normally")
    elapsed = float(outcome["at"]) - started  # type: ignore[arg-type]
    sqlstate = getattr(err, "sqlstate", None)
    if sqlstate == "57P01":
        how = "SQLSTATE 57P01 (admin_shutdown)"
    elif isinstance(err, psycopg.OperationalError) and sqlstate is None:
        how = f"connection closed ({str(err).strip().splitlines()[0]})"
    else:
        raise CheckFailed(f"A failed with an unexpected error: {type(err).__name__} {sqlstate}: {err}")
    expect(a.closed or a.broken, "A's connection is not marked closed")
    expect_eq(one(b, "select 1"), 1, "select 1 on B")
    return f"pg_terminate_backend({pid}) = true; A failed with {how} after {elapsed:.2f} s; B still answers"


def tls_connect(s: Scenario) -> str:
    # --sslmode applies to every scenario; this one needs TLS, so 'disable' is read as 'require'.
    mode = "require" if s.args.sslmode == "disable" else s.args.sslmode
    try:
        conn = s.connect(sslmode=mode)
    except psycopg.OperationalError as e:
        raise CheckFailed(f"TLS connection (sslmode={mode}) failed: {str(e).strip()}") from None
    expect(conn.pgconn.ssl_in_use, "connected without TLS")
    expect_eq(one(conn, "select 1"), 1, "select 1")
    return f"sslmode={mode}: connected over TLS; select 1 = 1"


# Every scenario name is a function above.
FUNCS: dict[str, Callable[[Scenario], str]] = {name: globals()[name] for name in SCENARIOS}


# --------------------------------------------------------------------------------------------------


def run_one(name: str, args: argparse.Namespace) -> dict[str, object]:
    s = Scenario(args)
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["detail"] = FUNCS[name](s)
            result["ok"] = True
        except CheckFailed as e:
            result["ok"], result["detail"] = False, str(e)
        except Exception as e:  # noqa: BLE001 - a scenario failing never stops the others
            result["ok"], result["detail"] = False, f"{type(e).__name__}: {str(e).strip()}"
        finally:
            s.close_all()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(SCENARIO_TIMEOUT)
    if thread.is_alive():
        # Leave the stuck thread behind (it is a daemon); close its connections out of band.
        threading.Thread(target=s.close_all, daemon=True).start()
        return {"scenario": name, "ok": False, "detail": f"timed out after {SCENARIO_TIMEOUT:g} s"}
    return {"scenario": name, "ok": result.get("ok", False), "detail": result.get("detail", "no outcome")}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Cairn client-compatibility scenarios (psycopg 3)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--database")
    p.add_argument("--sslmode", choices=["disable", "require", "verify-full"], default="disable")
    p.add_argument("--sslrootcert")
    p.add_argument("--only", help="comma-separated scenario names")
    p.add_argument("--list", action="store_true", help="print the scenario names and exit")
    args = p.parse_args(argv)  # exits 2 on a malformed command line
    if args.list:
        return args
    missing = [f"--{k}" for k in ("host", "port", "user", "password", "database") if getattr(args, k) is None]
    if missing:
        p.error(f"missing {', '.join(missing)}")
    if args.only is not None:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in SCENARIOS]
        if unknown or not wanted:
            p.error(f"unknown scenario(s) in --only: {', '.join(unknown) or '(none given)'}")
        args.selected = [n for n in SCENARIOS if n in wanted]
    else:
        args.selected = [n for n in SCENARIOS if n not in NOT_BY_DEFAULT]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    for name in args.selected:
        print(json.dumps(run_one(name, args), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    # Threads of timed-out scenarios may still hold connections: leave without waiting for them.
    os._exit(code)
