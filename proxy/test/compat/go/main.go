// Command compat runs Cairn's client-compatibility scenarios (../scenarios.json) through pgx v5
// against a PostgreSQL-speaking server: PostgreSQL itself, or Cairn's proxy, which must be
// indistinguishable from it.
//
//	compat --host H --port P --user U --password W --database D
//	       [--sslmode disable|require|verify-full] [--sslrootcert FILE] [--only name1,name2,...] [--list]
//
// It prints one JSON line per scenario run: {"scenario":...,"ok":true|false,"detail":...}, and
// exits 0 when every requested scenario ran (whatever its outcome), 2 on bad arguments. Without
// --only every scenario runs except tls_connect, which needs a TLS-enabled server. --list prints
// the scenario names, one a line.
//
// Where the wire traffic itself is the point (simple vs extended protocol, pipelining, named
// statements, binary formats, authentication), a scenario turns on pgproto3's message trace and
// asserts on it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

const (
	scenarioTimeout = 10 * time.Second // per scenario
	wait            = 5 * time.Second  // allowed for a notification, a cancel or a termination to arrive
)

type scenario struct {
	name string
	run  func(ctx context.Context, s *env) (string, error)
}

// The order of ../scenarios.json.
var scenarios = []scenario{
	{"connect_scram", connectScram},
	{"simple_query", simpleQuery},
	{"multi_statement", multiStatement},
	{"prepared_reuse_across_tx", preparedReuseAcrossTx},
	{"binary_results", binaryResults},
	{"portal_row_limit", portalRowLimit},
	{"copy_in", copyIn},
	{"copy_out", copyOut},
	{"listen_notify", listenNotify},
	{"cancel", cancelScenario},
	{"error_mid_pipeline", errorMidPipeline},
	{"set_not_leaking", setNotLeaking},
	{"catalog_queries", catalogQueries},
	{"terminate_backend", terminateBackend},
	{"tls_connect", tlsConnect},
}

// Run only when asked for with --only: it needs a server with TLS on.
var notByDefault = map[string]bool{"tls_connect": true}

type options struct {
	host, user, password, database, sslmode, sslrootcert string
	port                                                 int
}

// env is what a scenario gets: the options and a connection factory that cleans up after it.
type env struct {
	opts  options
	mu    sync.Mutex
	conns []*pgx.Conn
	raw   []net.Conn
}

func (s *env) config(sslmode string) (*pgx.ConnConfig, error) {
	q := url.Values{}
	q.Set("sslmode", sslmode)
	q.Set("connect_timeout", "5")
	if s.opts.sslrootcert != "" {
		q.Set("sslrootcert", s.opts.sslrootcert)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.opts.user, s.opts.password),
		Host:     net.JoinHostPort(s.opts.host, strconv.Itoa(s.opts.port)),
		Path:     "/" + s.opts.database,
		RawQuery: q.Encode(),
	}
	return pgx.ParseConfig(u.String())
}

// connect opens a connection; tweak, when not nil, may change the configuration first.
func (s *env) connect(ctx context.Context, tweak func(*pgx.ConnConfig)) (*pgx.Conn, error) {
	cfg, err := s.config(s.opts.sslmode)
	if err != nil {
		return nil, err
	}
	if tweak != nil {
		tweak(cfg)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	return conn, nil
}

func (s *env) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Close(ctx)
		cancel()
	}
	for _, c := range s.raw {
		_ = c.Close()
	}
	s.conns, s.raw = nil, nil
}

// wireLog collects pgproto3's trace: one line per message, "F\tQuery\t23\t \"select 1\"" (F: to
// the server, B: from it), and the first bytes the server sent (for the authentication request).
type wireLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix []byte
}

func (w *wireLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// mark returns the number of lines so far, to look only at what follows.
func (w *wireLog) mark() int { return len(w.lines(0)) }

func (w *wireLog) lines(from int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	all := strings.Split(strings.TrimRight(w.buf.String(), "\n"), "\n")
	if len(all) == 1 && all[0] == "" {
		all = nil
	}
	if from > len(all) {
		from = len(all)
	}
	return all[from:]
}

// messages lists the trace lines of one message type from one side ('F' or 'B') from a mark on.
func (w *wireLog) messages(from int, sender, name string) []string {
	var out []string
	for _, l := range w.lines(from) {
		f := strings.SplitN(l, "\t", 4)
		if len(f) >= 2 && f[0] == sender && f[1] == name {
			out = append(out, l)
		}
	}
	return out
}

// traced makes cfg trace its protocol messages into the returned log.
func traced(cfg *pgx.ConnConfig) *wireLog {
	w := &wireLog{}
	cfg.BuildFrontend = func(r io.Reader, wr io.Writer) *pgproto3.Frontend {
		f := pgproto3.NewFrontend(&prefixTap{r: r, log: w}, wr)
		f.Trace(w, pgproto3.TracerOptions{SuppressTimestamps: true})
		return f
	}
	return w
}

// prefixTap keeps the first 4 KiB read from the server.
type prefixTap struct {
	r   io.Reader
	log *wireLog
}

func (t *prefixTap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.log.mu.Lock()
	if room := 4096 - len(t.log.prefix); room > 0 && n > 0 {
		t.log.prefix = append(t.log.prefix, p[:min(n, room)]...)
	}
	t.log.mu.Unlock()
	return n, err
}

// saslMechanisms finds the AuthenticationSASL request ('R', code 10) in the server's first bytes
// and returns the mechanisms it offers.
func saslMechanisms(b []byte) []string {
	for len(b) >= 5 {
		typ, n := b[0], int(binary.BigEndian.Uint32(b[1:5]))
		if n < 4 || len(b) < 1+n {
			return nil
		}
		body := b[5 : 1+n]
		if typ == 'R' && len(body) >= 4 && binary.BigEndian.Uint32(body) == 10 {
			var mechs []string
			for _, m := range strings.Split(string(body[4:]), "\x00") {
				if m != "" {
					mechs = append(mechs, m)
				}
			}
			return mechs
		}
		b = b[1+n:]
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Helpers for checks.

func fail(format string, a ...any) error { return fmt.Errorf(format, a...) }

func expectEq[T comparable](got, want T, what string) error {
	if got != want {
		return fail("%s: expected %v, got %v", what, want, got)
	}
	return nil
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func selectOne(ctx context.Context, conn *pgx.Conn) error {
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		return fail("select 1: %v", err)
	}
	return expectEq(one, 1, "select 1")
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Each returns the detail of what it checked, or an error.

func connectScram(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	var user string
	if err := conn.QueryRow(ctx, "select current_user").Scan(&user); err != nil {
		return "", err
	}
	if err := expectEq(user, s.opts.user, "current_user"); err != nil {
		return "", err
	}
	// The server must have asked for SASL and run the SCRAM exchange to the end.
	var auth []string
	for _, l := range log.lines(0) {
		if f := strings.SplitN(l, "\t", 3); f[0] == "B" && strings.HasPrefix(f[1], "Authentication") {
			auth = append(auth, f[1])
		}
	}
	want := "AuthenticationSASL,AuthenticationSASLContinue,AuthenticationSASLFinal,AuthenticationOk"
	if err := expectEq(strings.Join(auth, ","), want, "authentication messages"); err != nil {
		return "", err
	}
	log.mu.Lock()
	mechs := saslMechanisms(log.prefix)
	log.mu.Unlock()
	if !contains(mechs, "SCRAM-SHA-256") {
		return "", fail("SASL mechanisms offered: %v, no SCRAM-SHA-256", mechs)
	}
	// A wrong password must be refused the way PostgreSQL refuses it.
	_, err = s.connect(ctx, func(c *pgx.ConnConfig) { c.Password += "-wrong" })
	if err == nil {
		return "", fail("a wrong password was accepted")
	}
	if code := pgCode(err); code != "28P01" {
		return "", fail("wrong password refused with SQLSTATE %q (want 28P01): %v", code, err)
	}
	return fmt.Sprintf("SASL offered %v, SCRAM exchange completed; current_user = %q; a wrong password is refused with 28P01",
		mechs, user), nil
}

func simpleQuery(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	from := log.mark()
	var answer int
	var t string
	// QueryExecModeSimpleProtocol: one Query message, text results.
	err = conn.QueryRow(ctx, "select 41 + 1 as answer, 'héllo'::text as t", pgx.QueryExecModeSimpleProtocol).
		Scan(&answer, &t)
	if err != nil {
		return "", err
	}
	if answer != 42 || t != "héllo" {
		return "", fail("got answer=%d t=%q, want 42 'héllo'", answer, t)
	}
	if err := expectEq(len(log.messages(from, "F", "Query")), 1, "Query messages sent"); err != nil {
		return "", err
	}
	if err := expectEq(len(log.messages(from, "F", "Parse")), 0, "Parse messages sent"); err != nil {
		return "", err
	}
	return "simple-protocol Query returned answer=42, t='héllo' (UTF-8 round trip)", nil
}

func multiStatement(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	from := log.mark()
	results, err := conn.PgConn().Exec(ctx, "select 1 as one; select 2 as two, 'x' as x").ReadAll()
	if err != nil {
		return "", err
	}
	if len(results) != 2 {
		return "", fail("%d results, want 2", len(results))
	}
	describe := func(r *pgconn.Result) string {
		var cols, rows []string
		for _, f := range r.FieldDescriptions {
			cols = append(cols, f.Name)
		}
		for _, row := range r.Rows {
			var vals []string
			for _, v := range row {
				vals = append(vals, string(v))
			}
			rows = append(rows, strings.Join(vals, ","))
		}
		return strings.Join(cols, ",") + "=" + strings.Join(rows, ";")
	}
	if err := expectEq(describe(results[0]), "one=1", "first result"); err != nil {
		return "", err
	}
	if err := expectEq(describe(results[1]), "two,x=2,x", "second result"); err != nil {
		return "", err
	}
	if err := expectEq(len(log.messages(from, "F", "Query")), 1, "Query messages sent"); err != nil {
		return "", err
	}
	if err := expectEq(len(log.messages(from, "B", "ReadyForQuery")), 1, "ReadyForQuery received"); err != nil {
		return "", err
	}
	return "one Query message with two statements: results one=1 and (two,x)=(2,'x'), one ReadyForQuery", nil
}

func preparedReuseAcrossTx(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	from := log.mark()
	const name = "stmt_x"
	if _, err := conn.Prepare(ctx, name, "select $1::int * 2"); err != nil {
		return "", err
	}
	values := []int{3, -7, 0, 21, 123456}
	for _, v := range values {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return "", err
		}
		var got int
		// Passing the statement's name as the SQL executes the prepared statement.
		if err := tx.QueryRow(ctx, name, v).Scan(&got); err != nil {
			_ = tx.Rollback(ctx)
			return "", fail("value %d: %v", v, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return "", err
		}
		if err := expectEq(got, v*2, fmt.Sprintf("result for %d", v)); err != nil {
			return "", err
		}
	}
	parses := log.messages(from, "F", "Parse")
	if err := expectEq(len(parses), 1, "Parse messages"); err != nil {
		return "", err
	}
	if !strings.Contains(parses[0], `"stmt_x"`) {
		return "", fail("unexpected Parse: %s", parses[0])
	}
	binds := 0
	for _, b := range log.messages(from, "F", "Bind") {
		if strings.Contains(b, ` "stmt_x" `) {
			binds++
		}
	}
	if err := expectEq(binds, len(values), "Binds of stmt_x"); err != nil {
		return "", err
	}
	// Only the client's side of the wire is asserted: a pooler may give the statement another
	// name on the server, and prepare it again on each server session it lands on, so
	// pg_prepared_statements of whatever session answers a later query proves nothing.
	return fmt.Sprintf("stmt_x parsed once, bound %d times in %d transactions; x*2 right each time", binds, len(values)), nil
}

const binarySQL = "select 123456789012::int8, 3.5::float8, '\\xdeadbeef'::bytea, " +
	"'2024-01-02 03:04:05+00'::timestamptz, 12345.678::numeric"

func binaryResults(ctx context.Context, s *env) (string, error) {
	conn, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	wantTS := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	// 1. pgx's own path: the default extended protocol asks for binary results for these types.
	rows, err := conn.Query(ctx, binarySQL)
	if err != nil {
		return "", err
	}
	var (
		i8 int64
		f8 float64
		ba []byte
		ts time.Time
		nu pgtype.Numeric
	)
	if !rows.Next() {
		rows.Close()
		return "", fail("no row: %v", rows.Err())
	}
	var formats []int16
	for _, fd := range rows.FieldDescriptions() {
		formats = append(formats, fd.Format)
	}
	if err := rows.Scan(&i8, &f8, &ba, &ts, &nu); err != nil {
		rows.Close()
		return "", err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if err := expectEq(fmt.Sprint(formats), "[1 1 1 1 1]", "result formats (1 = binary)"); err != nil {
		return "", err
	}
	if i8 != 123456789012 || f8 != 3.5 || !bytes.Equal(ba, []byte{0xde, 0xad, 0xbe, 0xef}) || !ts.Equal(wantTS) ||
		nu.Int.Cmp(big.NewInt(12345678)) != 0 || nu.Exp != -3 {
		return "", fail("decoded %d %v %x %v %v*10^%d", i8, f8, ba, ts, nu.Int, nu.Exp)
	}

	// 2. The raw wire values, asking for binary explicitly: exact bytes.
	res := conn.PgConn().ExecParams(ctx, binarySQL, nil, nil, nil, []int16{1}).Read()
	if res.Err != nil {
		return "", res.Err
	}
	if len(res.Rows) != 1 {
		return "", fail("%d raw rows", len(res.Rows))
	}
	raw := res.Rows[0]
	be8 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	micros := wantTS.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()
	want := [][]byte{
		be8(123456789012),
		be8(math.Float64bits(3.5)),
		{0xde, 0xad, 0xbe, 0xef},
		be8(uint64(micros)),
	}
	for i, w := range want {
		if !bytes.Equal(raw[i], w) {
			return "", fail("raw binary column %d: got %x, want %x", i+1, raw[i], w)
		}
	}
	return "int8, float8, bytea, timestamptz, numeric came back in binary and decode right; raw bytes of the first four match", nil
}

func portalRowLimit(ctx context.Context, s *env) (string, error) {
	// 1. SQL cursor in a transaction: DECLARE, then FETCH 100 until empty.
	conn, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "declare compat_c cursor for select generate_series(1, 1000)"); err != nil {
		return "", err
	}
	fetches, total, count := 0, 0, 0
	for {
		rows, err := tx.Query(ctx, "fetch 100 from compat_c")
		if err != nil {
			return "", err
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return "", err
		}
		fetches++
		if len(vals) == 0 {
			break
		}
		for _, v := range vals {
			total += int(v)
		}
		count += len(vals)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", err
	}
	if count != 1000 || total != 500500 || fetches != 11 {
		return "", fail("cursor: %d rows, sum %d, %d fetches; want 1000, 500500, 11", count, total, fetches)
	}

	// 2. Protocol-level row limit: Execute(portal, max rows 100) until CommandComplete, with
	// PortalSuspended in between. pgx has no high-level API for it, so this speaks pgproto3 on a
	// hijacked connection (pgconn.Hijack hands over the raw, idle, authenticated connection).
	raw, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	hc, err := raw.PgConn().Hijack()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.raw = append(s.raw, hc.Conn)
	s.mu.Unlock()
	deadline, _ := ctx.Deadline()
	_ = hc.Conn.SetDeadline(deadline)
	fe := hc.Frontend
	const portal = "compat_portal"
	fe.Send(&pgproto3.Parse{Query: "select generate_series(1, 1000)"})
	fe.Send(&pgproto3.Bind{DestinationPortal: portal})
	fe.Send(&pgproto3.Execute{Portal: portal, MaxRows: 100})
	fe.Send(&pgproto3.Flush{})
	if err := fe.Flush(); err != nil {
		return "", err
	}
	suspended, executes, rowsSeen, sum, perExecute := 0, 1, 0, 0, 0
	var tag string
loop:
	for {
		msg, err := fe.Receive()
		if err != nil {
			return "", err
		}
		switch m := msg.(type) {
		case *pgproto3.ParseComplete, *pgproto3.BindComplete:
		case *pgproto3.DataRow:
			v, err := strconv.Atoi(string(m.Values[0]))
			if err != nil {
				return "", err
			}
			sum += v
			rowsSeen++
			perExecute++
		case *pgproto3.PortalSuspended:
			if perExecute != 100 {
				return "", fail("Execute %d returned %d rows before PortalSuspended, want 100", executes, perExecute)
			}
			suspended++
			perExecute = 0
			if executes > 20 {
				return "", fail("portal never completed")
			}
			executes++
			fe.Send(&pgproto3.Execute{Portal: portal, MaxRows: 100})
			fe.Send(&pgproto3.Flush{})
			if err := fe.Flush(); err != nil {
				return "", err
			}
		case *pgproto3.CommandComplete:
			tag = string(m.CommandTag)
			fe.Send(&pgproto3.Sync{})
			if err := fe.Flush(); err != nil {
				return "", err
			}
		case *pgproto3.ReadyForQuery:
			break loop
		case *pgproto3.ErrorResponse:
			return "", fail("server error %s: %s", m.Code, m.Message)
		default:
			return "", fail("unexpected %T", msg)
		}
	}
	fe.Send(&pgproto3.Terminate{})
	_ = fe.Flush()
	if rowsSeen != 1000 || sum != 500500 || suspended < 9 {
		return "", fail("portal: %d rows, sum %d, %d PortalSuspended; want 1000, 500500, >= 9", rowsSeen, sum, suspended)
	}
	return fmt.Sprintf("DECLARE/FETCH 100: %d fetches, sum 500500; Execute max_rows=100: %d Executes, %d PortalSuspended, "+
		"then %q, 1000 rows, sum 500500", fetches, executes, suspended, tag), nil
}

func copyIn(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	table := "compat_copy_in_" + randSuffix()
	ident := pgx.Identifier{table}.Sanitize()
	if _, err := conn.Exec(ctx, "create table "+ident+" (id int not null, label text)"); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.Exec(context.Background(), "drop table if exists "+ident) }()
	label := func(i int) *string {
		if i%100 == 0 {
			return nil
		}
		l := fmt.Sprintf("row\t%d\\é", i)
		return &l
	}
	// Rows 1..500 through pgx.CopyFrom, which uses COPY's binary format.
	from := log.mark()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "label"},
		pgx.CopyFromSlice(500, func(i int) ([]any, error) { return []any{i + 1, label(i + 1)}, nil }))
	if err != nil {
		return "", err
	}
	if err := expectEq(n, int64(500), "rows copied (binary)"); err != nil {
		return "", err
	}
	binaryCopy := false
	for _, q := range log.messages(from, "F", "Query") {
		binaryCopy = binaryCopy || strings.Contains(q, "from stdin binary")
	}
	if !binaryCopy {
		return "", fail("pgx.CopyFrom did not use the binary format")
	}
	// Rows 501..1000 through the text format, escaped by hand.
	var text strings.Builder
	esc := strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r")
	for i := 501; i <= 1000; i++ {
		if l := label(i); l == nil {
			fmt.Fprintf(&text, "%d\t\\N\n", i)
		} else {
			fmt.Fprintf(&text, "%d\t%s\n", i, esc.Replace(*l))
		}
	}
	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(text.String()), "copy "+ident+" (id, label) from stdin")
	if err != nil {
		return "", err
	}
	if err := expectEq(tag.RowsAffected(), int64(500), "rows copied (text)"); err != nil {
		return "", err
	}
	var count, sum, labels int
	if err := conn.QueryRow(ctx, "select count(*), sum(id), count(label) from "+ident).Scan(&count, &sum, &labels); err != nil {
		return "", err
	}
	if count != 1000 || sum != 500500 || labels != 990 {
		return "", fail("count %d, sum %d, labels %d; want 1000, 500500, 990", count, sum, labels)
	}
	for _, id := range []int{7, 707} {
		var got string
		if err := conn.QueryRow(ctx, "select label from "+ident+" where id = $1", id).Scan(&got); err != nil {
			return "", err
		}
		if err := expectEq(got, *label(id), fmt.Sprintf("label of id %d", id)); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("COPY FROM STDIN into %s: 500 rows binary + 500 text, count 1000, sum 500500, 10 NULLs, "+
		"escaped text intact; table dropped", table), nil
}

func copyOut(ctx context.Context, s *env) (string, error) {
	conn, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &buf, "copy (select generate_series(1, 100)) to stdout")
	if err != nil {
		return "", err
	}
	if err := expectEq(tag.RowsAffected(), int64(100), "rows reported by COPY"); err != nil {
		return "", err
	}
	lines, sum := 0, 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		v, err := strconv.Atoi(sc.Text())
		if err != nil {
			return "", err
		}
		lines++
		sum += v
	}
	if lines != 100 || sum != 5050 {
		return "", fail("%d lines summing to %d, want 100 and 5050", lines, sum)
	}
	return "COPY TO STDOUT: 100 lines summing to 5050", nil
}

func listenNotify(ctx context.Context, s *env) (string, error) {
	token := randSuffix()
	channel, payload := "chan_"+token, "payload-"+token
	a, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	if _, err := a.Exec(ctx, "listen "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return "", err
	}
	b, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	// The pid in the notification is the server session's that ran pg_notify. (BackendKeyData's
	// pid is not compared with it: a pooler hands out its own pid and key for cancelling.)
	var bPid uint32
	if err := b.QueryRow(ctx, "select pg_backend_pid()").Scan(&bPid); err != nil {
		return "", err
	}
	if _, err := b.Exec(ctx, "select pg_notify($1, $2)", channel, payload); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	n, err := a.WaitForNotification(wctx)
	if err != nil {
		return "", fail("no notification within %v: %v", wait, err)
	}
	if n.Channel != channel || n.Payload != payload || n.PID != bPid {
		return "", fail("got (%s, %s, %d), want (%s, %s, %d)", n.Channel, n.Payload, n.PID, channel, payload, bPid)
	}
	return fmt.Sprintf("A got pg_notify(%s, '%s') from B's pid %d", channel, payload, bPid), nil
}

// expectCanceled checks a pg_sleep(30) ended with SQLSTATE 57014 soon enough.
func expectCanceled(err error, started time.Time, what string) (time.Duration, error) {
	elapsed := time.Since(started)
	if err == nil {
		return elapsed, fail("%s: pg_sleep(30) was not cancelled", what)
	}
	if code := pgCode(err); code != "57014" {
		return elapsed, fail("%s: want SQLSTATE 57014, got %q: %v", what, code, err)
	}
	if elapsed > wait {
		return elapsed, fail("%s: cancelled only after %v", what, elapsed)
	}
	return elapsed, nil
}

func cancelScenario(ctx context.Context, s *env) (string, error) {
	// 1. The explicit cancel API: PgConn.CancelRequest from another goroutine. The query fails
	// with 57014 and the connection stays open.
	c1, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	timer := time.AfterFunc(500*time.Millisecond, func() { _ = c1.PgConn().CancelRequest(ctx) })
	started := time.Now()
	_, err = c1.Exec(ctx, "select pg_sleep(30)")
	timer.Stop()
	d1, err := expectCanceled(err, started, "CancelRequest")
	if err != nil {
		return "", err
	}
	if err := selectOne(ctx, c1); err != nil {
		return "", fail("same connection after CancelRequest: %v", err)
	}

	// 2. Context cancellation with CancelRequestContextWatcherHandler: on ctx done pgx sends a
	// CancelRequest and waits for the server's answer, so the connection survives.
	c2, err := s.connect(ctx, func(c *pgx.ConnConfig) {
		c.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: wait}
		}
	})
	if err != nil {
		return "", err
	}
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	started = time.Now()
	_, err = c2.Exec(qctx, "select pg_sleep(30)")
	cancel()
	d2, err := expectCanceled(err, started, "ctx cancel (CancelRequest handler)")
	if err != nil {
		return "", err
	}
	if err := selectOne(ctx, c2); err != nil {
		return "", fail("same connection after ctx cancel: %v", err)
	}

	// 3. Context cancellation with pgx's default handler: the read is interrupted, the error is
	// the context's and the connection is closed (pgx sends a CancelRequest and a Terminate as it
	// goes). The server must then stop running that query; a new connection works. The query is
	// recognised in pg_stat_activity by a marker in its text, not by the BackendKeyData pid, which
	// a pooler issues itself. A watcher first sees it running, so that its disappearing means
	// something.
	marker := "cancel-" + randSuffix()
	const running = "select count(*) from pg_stat_activity " +
		"where state = 'active' and query like $1 and pid <> pg_backend_pid()"
	pattern := "%" + marker + "%"
	watch, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	c3, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	seen := make(chan error, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	go func() {
		for {
			var n int
			if err := watch.QueryRow(wctx, running, pattern).Scan(&n); err != nil {
				seen <- err
				return
			}
			if n > 0 {
				seen <- nil
				return
			}
			select {
			case <-wctx.Done():
				seen <- fail("not seen active while it ran")
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	qctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = c3.Exec(qctx, "select pg_sleep(30) /* "+marker+" */")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		stopWatch()
		<-seen
		return "", fail("default handler: want a context deadline error, got %v", err)
	}
	if !c3.IsClosed() {
		stopWatch()
		<-seen
		return "", fail("default handler: connection still open after ctx cancel")
	}
	var seenErr error
	select {
	case seenErr = <-seen:
	case <-time.After(wait):
		stopWatch()
		<-seen
		seenErr = fail("not seen active while it ran")
	}
	stopWatch()
	if seenErr != nil {
		return "", fail("default handler: query %q: %v", marker, seenErr)
	}
	c4, err := s.connect(ctx, nil)
	if err != nil {
		return "", fail("new connection after ctx cancel: %v", err)
	}
	if err := selectOne(ctx, c4); err != nil {
		return "", err
	}
	gone := false
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		var n int
		if err := c4.QueryRow(ctx, running, pattern).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			gone = true
			break
		}
	}
	if !gone {
		return "", fail("default handler: query %q still active %v after the client closed", marker, wait)
	}
	return fmt.Sprintf("CancelRequest: 57014 after %v, same conn answers; ctx cancel with CancelRequest handler: 57014 "+
		"after %v, same conn answers; ctx cancel with default handler: context error, conn closed, query %s seen "+
		"running then gone from pg_stat_activity, new conn answers", d1.Round(time.Millisecond), d2.Round(time.Millisecond),
		marker), nil
}

func errorMidPipeline(ctx context.Context, s *env) (string, error) {
	var log *wireLog
	conn, err := s.connect(ctx, func(c *pgx.ConnConfig) { log = traced(c) })
	if err != nil {
		return "", err
	}
	from := log.mark()
	batch := &pgx.Batch{}
	batch.Queue("select 1 as first")
	batch.Queue("select 1/0")
	batch.Queue("select 3 as third")
	br := conn.SendBatch(ctx, batch)
	var first int
	err1 := br.QueryRow().Scan(&first)
	_, err2 := br.Exec()
	_, err3 := br.Exec()
	errClose := br.Close()
	if err1 != nil || first != 1 {
		return "", fail("first statement: %d, %v", first, err1)
	}
	if code := pgCode(err2); code != "22012" {
		return "", fail("second statement: want SQLSTATE 22012, got %q: %v", code, err2)
	}
	if err3 == nil {
		return "", fail("the statement after the error ran")
	}
	if pgCode(errClose) != "22012" {
		return "", fail("batch close: %v", errClose)
	}
	// The three Executes went out together, before one Sync.
	var kinds []string
	for _, l := range log.lines(from) {
		if f := strings.SplitN(l, "\t", 3); f[0] == "F" {
			kinds = append(kinds, f[1])
		}
	}
	firstExec := indexOf(kinds, "Execute")
	if firstExec < 0 {
		return "", fail("no Execute sent")
	}
	syncAt := indexOf(kinds[firstExec:], "Sync")
	if syncAt < 0 {
		return "", fail("no Sync after the Executes")
	}
	executes := 0
	for _, k := range kinds[firstExec : firstExec+syncAt] {
		if k == "Execute" {
			executes++
		}
	}
	if err := expectEq(executes, 3, "Executes sent before one Sync"); err != nil {
		return "", err
	}
	if err := selectOne(ctx, conn); err != nil {
		return "", fail("after the batch: %v", err)
	}
	return "SendBatch: 3 Executes before one Sync; first returned 1, second failed 22012, third skipped; conn usable", nil
}

func setNotLeaking(ctx context.Context, s *env) (string, error) {
	leak := "leak_test_" + randSuffix()
	const probe = "select current_setting('statement_timeout'), current_setting('application_name')"
	read := func(c interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) (string, error) {
		var t, app string
		if err := c.QueryRow(ctx, probe).Scan(&t, &app); err != nil {
			return "", err
		}
		return t + "|" + app, nil
	}
	baseline, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	defaults, err := read(baseline)
	if err != nil {
		return "", err
	}
	_ = baseline.Close(ctx)

	a, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	if _, err := a.Exec(ctx, "SET application_name = '"+leak+"'"); err != nil {
		return "", err
	}
	if _, err := a.Exec(ctx, "SET statement_timeout = '1234ms'"); err != nil {
		return "", err
	}
	if err := expectEq(a.PgConn().ParameterStatus("application_name"), leak, "ParameterStatus application_name on A"); err != nil {
		return "", err
	}

	b, err := s.connect(ctx, nil) // opened while A is open
	if err != nil {
		return "", err
	}
	got, err := read(b)
	if err != nil {
		return "", err
	}
	if err := expectEq(got, defaults, "B's statement_timeout|application_name"); err != nil {
		return "", err
	}
	var show string
	if err := b.QueryRow(ctx, "show statement_timeout").Scan(&show); err != nil {
		return "", err
	}
	if show == "1234ms" {
		return "", fail("B's SHOW statement_timeout is A's 1234ms")
	}
	if b.PgConn().ParameterStatus("application_name") == leak {
		return "", fail("B got A's application_name as ParameterStatus")
	}

	tx, err := a.Begin(ctx)
	if err != nil {
		return "", err
	}
	got, err = read(tx)
	_ = tx.Commit(ctx)
	if err != nil {
		return "", err
	}
	if err := expectEq(got, "1234ms|"+leak, "A's own settings in a later transaction"); err != nil {
		return "", err
	}
	_ = a.Close(ctx)

	c, err := s.connect(ctx, nil) // opened after A is gone: a recycled server session must have been reset
	if err != nil {
		return "", err
	}
	if got, err = read(c); err != nil {
		return "", err
	}
	if err := expectEq(got, defaults, "C's statement_timeout|application_name after A closed"); err != nil {
		return "", err
	}
	return fmt.Sprintf("A keeps 1234ms/%s; B (A open) and C (A closed) see the defaults %q", leak, defaults), nil
}

func catalogQueries(ctx context.Context, s *env) (string, error) {
	conn, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	var version, iso string
	if err := conn.QueryRow(ctx, "select pg_catalog.version()").Scan(&version); err != nil {
		return "", err
	}
	if !strings.Contains(version, "PostgreSQL") {
		return "", fail("version() = %q", version)
	}
	if err := conn.QueryRow(ctx, "SHOW TRANSACTION ISOLATION LEVEL").Scan(&iso); err != nil {
		return "", err
	}
	if err := expectEq(iso, "read committed", "transaction isolation"); err != nil {
		return "", err
	}
	var schemas []string
	if err := conn.QueryRow(ctx, "select current_schemas(true)").Scan(&schemas); err != nil {
		return "", err
	}
	if !contains(schemas, "pg_catalog") {
		return "", fail("current_schemas(true) = %v", schemas)
	}
	rows, _ := conn.Query(ctx,
		"select table_name::text from information_schema.tables where table_schema = 'pg_catalog' order by 1")
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	if !contains(tables, "pg_class") {
		return "", fail("information_schema.tables lists %d pg_catalog tables, no pg_class", len(tables))
	}
	rows, _ = conn.Query(ctx, "select n.nspname::text from pg_catalog.pg_namespace n order by 1")
	nsp, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	if !contains(nsp, "public") || !contains(nsp, "pg_catalog") {
		return "", fail("pg_namespace = %v", nsp)
	}
	// pgx's own catalog queries (regtype, pg_type) for type introspection.
	typ, err := conn.LoadType(ctx, "_int4")
	if err != nil {
		return "", fail("LoadType(_int4): %v", err)
	}
	if err := expectEq(typ.OID, uint32(1007), "OID of _int4"); err != nil {
		return "", err
	}
	// ParameterStatus values reported at startup agree with SHOW.
	for _, name := range []string{"server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone"} {
		var shown string
		if err := conn.QueryRow(ctx, "show "+pgx.Identifier{name}.Sanitize()).Scan(&shown); err != nil {
			return "", err
		}
		if err := expectEq(conn.PgConn().ParameterStatus(name), shown, "ParameterStatus "+name); err != nil {
			return "", err
		}
	}
	for _, name := range []string{"integer_datetimes", "standard_conforming_strings"} {
		if err := expectEq(conn.PgConn().ParameterStatus(name), "on", "ParameterStatus "+name); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("version() has PostgreSQL; read committed; current_schemas has pg_catalog; %d pg_catalog tables; "+
		"%d namespaces incl. public; LoadType(_int4) = 1007; ParameterStatus matches SHOW", len(tables), len(nsp)), nil
}

func terminateBackend(ctx context.Context, s *env) (string, error) {
	a, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	// The server session's pid, as the server knows it (BackendKeyData's pid may be a pooler's own).
	var pid uint32
	if err := a.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "select pg_sleep(30)")
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	b, err := s.connect(ctx, nil)
	if err != nil {
		return "", err
	}
	var terminated bool
	started := time.Now()
	if err := b.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&terminated); err != nil {
		return "", err
	}
	if !terminated {
		return "", fail("pg_terminate_backend(%d) returned false", pid)
	}
	var qerr error
	select {
	case qerr = <-done:
	case <-time.After(wait):
		return "", fail("A's query still running %v after pg_terminate_backend", wait)
	}
	elapsed := time.Since(started)
	var how string
	switch {
	case qerr == nil:
		return "", fail("A's pg_sleep(30) returned normally")
	case pgCode(qerr) == "57P01":
		how = "SQLSTATE 57P01 (admin_shutdown)"
	case pgCode(qerr) == "" && (errors.Is(qerr, io.EOF) || errors.Is(qerr, io.ErrUnexpectedEOF) || isNetErr(qerr)):
		how = "connection closed (" + qerr.Error() + ")"
	default:
		return "", fail("A failed with an unexpected error: %v", qerr)
	}
	if !a.IsClosed() {
		return "", fail("A's connection is not closed")
	}
	if err := selectOne(ctx, b); err != nil {
		return "", fail("B: %v", err)
	}
	return fmt.Sprintf("pg_terminate_backend(%d) = true; A failed with %s after %v; B still answers",
		pid, how, elapsed.Round(time.Millisecond)), nil
}

func tlsConnect(ctx context.Context, s *env) (string, error) {
	// --sslmode applies to every scenario; this one needs TLS, so 'disable' is read as 'require'.
	mode := s.opts.sslmode
	if mode == "disable" {
		mode = "require"
	}
	cfg, err := s.config(mode)
	if err != nil {
		return "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fail("TLS connection (sslmode=%s) failed: %v", mode, err)
	}
	s.mu.Lock()
	s.conns = append(s.conns, conn)
	s.mu.Unlock()
	tc, ok := conn.PgConn().Conn().(*tls.Conn)
	if !ok {
		return "", fail("connected without TLS")
	}
	if err := selectOne(ctx, conn); err != nil {
		return "", err
	}
	return fmt.Sprintf("sslmode=%s: connected over %s; select 1 = 1", mode, tls.VersionName(tc.ConnectionState().Version)), nil
}

// ---------------------------------------------------------------------------------------------

func contains(list []string, v string) bool { return indexOf(list, v) >= 0 }

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "reset")
}

type outcome struct {
	Scenario string `json:"scenario"`
	OK       bool   `json:"ok"`
	Detail   string `json:"detail"`
}

func runOne(sc scenario, opts options) outcome {
	s := &env{opts: opts}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{sc.name, false, fmt.Sprintf("panic: %v", r)}
			}
		}()
		detail, err := sc.run(ctx, s)
		if err != nil {
			done <- outcome{sc.name, false, err.Error()}
		} else {
			done <- outcome{sc.name, true, detail}
		}
	}()
	select {
	case o := <-done:
		s.closeAll()
		return o
	case <-time.After(scenarioTimeout + 250*time.Millisecond):
		// Leave the stuck goroutine behind; close its connections out of band.
		go s.closeAll()
		return outcome{sc.name, false, fmt.Sprintf("timed out after %v", scenarioTimeout)}
	}
}

func usage(fs *flag.FlagSet, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "compat: "+format+"\n", a...)
	fs.Usage()
	os.Exit(2)
}

func main() {
	fs := flag.NewFlagSet("compat", flag.ContinueOnError)
	var o options
	var only string
	var list bool
	fs.StringVar(&o.host, "host", "", "server host")
	fs.IntVar(&o.port, "port", 0, "server port")
	fs.StringVar(&o.user, "user", "", "user name")
	fs.StringVar(&o.password, "password", "", "password")
	fs.StringVar(&o.database, "database", "", "database name")
	fs.StringVar(&o.sslmode, "sslmode", "disable", "disable, require or verify-full")
	fs.StringVar(&o.sslrootcert, "sslrootcert", "", "CA certificate file (PEM) for verify-full")
	fs.StringVar(&only, "only", "", "comma-separated scenario names")
	fs.BoolVar(&list, "list", false, "print the scenario names and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2) // the flag package has printed the error and the usage
	}
	if fs.NArg() > 0 {
		usage(fs, "unexpected argument %q", fs.Arg(0))
	}
	if list {
		for _, sc := range scenarios {
			fmt.Println(sc.name)
		}
		return
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, name := range []string{"host", "port", "user", "password", "database"} {
		if !set[name] {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		usage(fs, "missing %s", strings.Join(missing, ", "))
	}
	switch o.sslmode {
	case "disable", "require", "verify-full":
	default:
		usage(fs, "--sslmode must be disable, require or verify-full, not %q", o.sslmode)
	}

	selected := map[string]bool{}
	if set["only"] {
		known := map[string]bool{}
		for _, sc := range scenarios {
			known[sc.name] = true
		}
		for _, n := range strings.Split(only, ",") {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			if !known[n] {
				usage(fs, "unknown scenario in --only: %s", n)
			}
			selected[n] = true
		}
		if len(selected) == 0 {
			usage(fs, "--only names no scenario")
		}
	} else {
		for _, sc := range scenarios {
			selected[sc.name] = !notByDefault[sc.name]
		}
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, sc := range scenarios {
		if selected[sc.name] {
			_ = enc.Encode(runOne(sc, o))
		}
	}
	// Goroutines of timed-out scenarios may still hold connections: leave without waiting for them.
	os.Exit(0)
}
