package cairn.compat;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.SocketFactory;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.PGResultSetMetaData;
import org.postgresql.PGStatement;
import org.postgresql.copy.CopyManager;

/**
 * Cairn client-compatibility scenarios (../../scenarios.json) for pgjdbc, run against a
 * PostgreSQL-speaking server: PostgreSQL itself, or Cairn's proxy, which must be
 * indistinguishable from it.
 *
 * <pre>
 * java -jar compat.jar --host H --port P --user U --password W --database D
 *      [--sslmode disable|require|verify-full] [--sslrootcert FILE] [--only name1,name2,...] [--list]
 * </pre>
 *
 * <p>Prints one JSON line per scenario run: {"scenario":...,"ok":true|false,"detail":...}. Exits 0
 * when every requested scenario ran (whatever its outcome), 2 on bad arguments. Without --only every
 * scenario runs except tls_connect, which needs a TLS-enabled server. --list prints the names.
 *
 * <p>pgjdbc has no protocol trace, so where the wire traffic is the point (authentication,
 * pipelining, named statements, portal suspension, TLS negotiation) a scenario connects through
 * {@link TapFactory}, a socket factory that records what the server sends and what the driver
 * sends, and asserts on those messages.
 */
public final class Scenarios {
  static final long SCENARIO_TIMEOUT_MS = 10_000;
  static final int WAIT_MS = 5_000; // allowed for a notification, a cancel or a termination

  /** A scenario: returns the detail of what it checked, or throws. */
  interface Body {
    String run(Env env) throws Exception;
  }

  /** An assertion of a scenario did not hold. */
  static final class CheckFailed extends Exception {
    private static final long serialVersionUID = 1L;

    CheckFailed(String message) {
      super(message);
    }
  }

  /** The order of scenarios.json. */
  static final Map<String, Body> SCENARIOS = new LinkedHashMap<>();

  static {
    SCENARIOS.put("connect_scram", Scenarios::connectScram);
    SCENARIOS.put("simple_query", Scenarios::simpleQuery);
    SCENARIOS.put("multi_statement", Scenarios::multiStatement);
    SCENARIOS.put("prepared_reuse_across_tx", Scenarios::preparedReuseAcrossTx);
    SCENARIOS.put("binary_results", Scenarios::binaryResults);
    SCENARIOS.put("portal_row_limit", Scenarios::portalRowLimit);
    SCENARIOS.put("copy_in", Scenarios::copyIn);
    SCENARIOS.put("copy_out", Scenarios::copyOut);
    SCENARIOS.put("listen_notify", Scenarios::listenNotify);
    SCENARIOS.put("cancel", Scenarios::cancel);
    SCENARIOS.put("error_mid_pipeline", Scenarios::errorMidPipeline);
    SCENARIOS.put("set_not_leaking", Scenarios::setNotLeaking);
    SCENARIOS.put("catalog_queries", Scenarios::catalogQueries);
    SCENARIOS.put("terminate_backend", Scenarios::terminateBackend);
    SCENARIOS.put("tls_connect", Scenarios::tlsConnect);
  }

  /** Run only when asked for with --only: it needs a server with TLS on. */
  static final Set<String> NOT_BY_DEFAULT = Set.of("tls_connect");

  record Options(
      String host, int port, String user, String password, String database, String sslmode, String sslrootcert) {}

  /** What a scenario gets: the options and a connection factory that cleans up after it. */
  static final class Env {
    final Options opts;
    final List<Connection> conns = new CopyOnWriteArrayList<>();

    Env(Options opts) {
      this.opts = opts;
    }

    String url() {
      String host = opts.host().contains(":") ? "[" + opts.host() + "]" : opts.host();
      return "jdbc:postgresql://" + host + ":" + opts.port() + "/"
          + URLEncoder.encode(opts.database(), StandardCharsets.UTF_8);
    }

    Properties props() {
      Properties p = new Properties();
      p.setProperty("user", opts.user());
      p.setProperty("password", opts.password());
      p.setProperty("sslmode", opts.sslmode());
      if (opts.sslrootcert() != null) {
        p.setProperty("sslrootcert", opts.sslrootcert());
      }
      p.setProperty("connectTimeout", "5"); // TCP connect
      p.setProperty("loginTimeout", "5"); // the whole startup, authentication included
      return p;
    }

    /** A connection with the given properties on top of the defaults ("key", "value", ...). */
    Connection connect(String... extra) throws SQLException {
      Properties p = props();
      for (int i = 0; i + 1 < extra.length; i += 2) {
        p.setProperty(extra[i], extra[i + 1]);
      }
      Connection c = DriverManager.getConnection(url(), p);
      conns.add(c);
      return c;
    }

    /** A connection whose server-to-client bytes are recorded in the returned tap. */
    Tapped connectTapped(String... extra) throws SQLException {
      String key = "tap-" + rand() + rand();
      Tap tap = new Tap();
      TapFactory.TAPS.put(key, tap);
      String[] all = Arrays.copyOf(extra, extra.length + 6);
      all[extra.length] = "socketFactory";
      all[extra.length + 1] = TapFactory.class.getName();
      all[extra.length + 2] = TapFactory.KEY_PROPERTY;
      all[extra.length + 3] = key;
      // No GSSAPI-encryption attempt: the tap expects the plain startup sequence.
      all[extra.length + 4] = "gssEncMode";
      all[extra.length + 5] = "disable";
      try {
        return new Tapped(connect(all), tap);
      } finally {
        TapFactory.TAPS.remove(key);
      }
    }

    /** The wire checks read plaintext; under TLS the tap only sees encrypted records. */
    boolean plaintext() {
      return "disable".equals(opts.sslmode());
    }

    void closeAll() {
      for (Connection c : conns) {
        try {
          c.close();
        } catch (Exception ignored) {
          // closing is best effort
        }
      }
      conns.clear();
    }
  }

  record Tapped(Connection conn, Tap tap) {}

  // ------------------------------------------------------------------------------------------
  // Wire tap.

  /** One protocol message: its type byte and body. */
  record Msg(char type, byte[] body) {
    int int32(int at) {
      return ((body[at] & 0xff) << 24) | ((body[at + 1] & 0xff) << 16) | ((body[at + 2] & 0xff) << 8)
          | (body[at + 3] & 0xff);
    }

    /** The NUL-terminated strings that open the body (Parse: name, query; Bind: portal, statement). */
    List<String> cstrings(int count) {
      List<String> out = new ArrayList<>();
      int at = 0;
      while (out.size() < count && at < body.length) {
        int end = at;
        while (end < body.length && body[end] != 0) {
          end++;
        }
        out.add(new String(body, at, end - at, StandardCharsets.UTF_8));
        at = end + 1;
      }
      return out;
    }
  }

  /** The typed messages in b from offset i on, up to the last complete one. */
  static List<Msg> parseMessages(byte[] b, int i) {
    List<Msg> out = new ArrayList<>();
    while (i + 5 <= b.length) {
      int len = ((b[i + 1] & 0xff) << 24) | ((b[i + 2] & 0xff) << 16) | ((b[i + 3] & 0xff) << 8) | (b[i + 4] & 0xff);
      if (len < 4 || i + 1 + len > b.length) {
        break;
      }
      out.add(new Msg((char) b[i], Arrays.copyOfRange(b, i + 5, i + 1 + len)));
      i += 1 + len;
    }
    return out;
  }

  /** Bytes received from and sent to the server on the first socket of one connection. */
  static final class Tap {
    private final java.io.ByteArrayOutputStream in = new java.io.ByteArrayOutputStream();
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    private boolean claimed;

    synchronized boolean claim() {
      boolean first = !claimed;
      claimed = true;
      return first;
    }

    synchronized void feed(byte[] b, int off, int len) {
      in.write(b, off, len);
    }

    synchronized byte[] raw() {
      return in.toByteArray();
    }

    synchronized void feedSent(byte[] b, int off, int len) {
      out.write(b, off, len);
    }

    synchronized byte[] rawSent() {
      return out.toByteArray();
    }

    /** The backend messages received so far (typed messages only: a plaintext connection). */
    List<Msg> messages() {
      return parseMessages(raw(), 0);
    }

    /**
     * The frontend messages sent so far, after the untyped StartupMessage (a plaintext connection
     * without SSLRequest or GSSENCRequest, as {@link Env#connectTapped} makes it).
     */
    List<Msg> sent() {
      byte[] b = rawSent();
      if (b.length < 4) {
        return List.of();
      }
      int startup = ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
      return parseMessages(b, startup);
    }

    int mark() {
      return messages().size();
    }

    int markSent() {
      return sent().size();
    }

    /** How many messages of a type arrived after the mark. */
    int count(int from, char type) {
      List<Msg> all = messages();
      int n = 0;
      for (Msg m : all.subList(Math.min(from, all.size()), all.size())) {
        if (m.type() == type) {
          n++;
        }
      }
      return n;
    }
  }

  /**
   * pgjdbc's socketFactory hook: pgjdbc instantiates it with the connection properties and calls
   * createSocket() for the connection (and again for each cancel request). The property
   * {@link #KEY_PROPERTY} names the {@link Tap} that records the connection's first socket.
   */
  public static final class TapFactory extends SocketFactory {
    static final String KEY_PROPERTY = "cairnCompatTap";
    static final Map<String, Tap> TAPS = new ConcurrentHashMap<>();
    private final Tap tap;

    public TapFactory(Properties info) {
      Tap t = TAPS.get(info.getProperty(KEY_PROPERTY, ""));
      this.tap = t != null ? t : new Tap();
    }

    @Override
    public Socket createSocket() {
      return tap.claim() ? new TapSocket(tap) : new Socket();
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      throw new IOException("unconnected sockets only");
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort) throws IOException {
      throw new IOException("unconnected sockets only");
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
      throw new IOException("unconnected sockets only");
    }

    @Override
    public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort) throws IOException {
      throw new IOException("unconnected sockets only");
    }
  }

  static final class TapSocket extends Socket {
    private final Tap tap;
    private InputStream wrapped;
    private OutputStream wrappedOut;

    TapSocket(Tap tap) {
      this.tap = tap;
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
      if (wrapped == null) {
        wrapped = new FilterInputStream(super.getInputStream()) {
          @Override
          public int read() throws IOException {
            int c = super.read();
            if (c >= 0) {
              tap.feed(new byte[] {(byte) c}, 0, 1);
            }
            return c;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
              tap.feed(b, off, n);
            }
            return n;
          }
        };
      }
      return wrapped;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (wrappedOut == null) {
        wrappedOut = new FilterOutputStream(super.getOutputStream()) {
          @Override
          public void write(int c) throws IOException {
            out.write(c);
            tap.feedSent(new byte[] {(byte) c}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            tap.feedSent(b, off, len);
          }
        };
      }
      return wrappedOut;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Helpers.

  static final SecureRandom RANDOM = new SecureRandom();

  static String rand() {
    byte[] b = new byte[4];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  static void expect(boolean cond, String message) throws CheckFailed {
    if (!cond) {
      throw new CheckFailed(message);
    }
  }

  static void expectEq(Object actual, Object expected, String what) throws CheckFailed {
    if (!java.util.Objects.equals(actual, expected)) {
      throw new CheckFailed(what + ": expected " + expected + ", got " + actual);
    }
  }

  /** The single value of a single-row query, as an object. */
  static Object one(Connection c, String sql) throws SQLException, CheckFailed {
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      expect(rs.next(), "no row from " + sql);
      return rs.getObject(1);
    }
  }

  static List<String> strings(Connection c, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  static void exec(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  static String quoteIdent(String s) {
    return "\"" + s.replace("\"", "\"\"") + "\"";
  }

  static String quoteLiteral(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  // ------------------------------------------------------------------------------------------
  // Scenarios.

  static String connectScram(Env env) throws Exception {
    Tapped t = env.connectTapped();
    expectEq(one(t.conn(), "select current_user"), env.opts.user(), "current_user");
    String how = "(authentication messages not inspected under TLS)";
    if (env.plaintext()) {
      // The server must ask for SASL offering SCRAM-SHA-256 and run the exchange to the end:
      // AuthenticationSASL (10), SASLContinue (11), SASLFinal (12), Ok (0).
      List<Integer> codes = new ArrayList<>();
      String mechanisms = null;
      for (Msg m : t.tap().messages()) {
        if (m.type() == 'R') {
          codes.add(m.int32(0));
          if (m.int32(0) == 10) {
            mechanisms = new String(m.body(), 4, m.body().length - 4, StandardCharsets.UTF_8)
                .replaceAll("\u0000+$", "")
                .replace('\u0000', ',');
          }
        }
      }
      expectEq(codes, List.of(10, 11, 12, 0), "authentication request codes");
      expect(mechanisms != null && Arrays.asList(mechanisms.split(",")).contains("SCRAM-SHA-256"),
          "SASL mechanisms offered: " + mechanisms);
      how = "SASL offered [" + mechanisms + "], SCRAM exchange completed";
    }
    // A wrong password must be refused the way PostgreSQL refuses it.
    try {
      env.connect("password", env.opts.password() + "-wrong");
      throw new CheckFailed("a wrong password was accepted");
    } catch (SQLException e) {
      expectEq(e.getSQLState(), "28P01", "SQLSTATE for a wrong password");
    }
    return how + "; current_user = '" + env.opts.user() + "'; a wrong password is refused with 28P01";
  }

  static String simpleQuery(Env env) throws Exception {
    // preferQueryMode=simple: pgjdbc sends a Query message instead of Parse/Bind/Execute.
    Tapped t = env.connectTapped("preferQueryMode", "simple");
    int from = t.tap().mark();
    try (Statement st = t.conn().createStatement();
        ResultSet rs = st.executeQuery("select 41 + 1 as answer, 'héllo'::text as t")) {
      expect(rs.next(), "no row");
      expectEq(rs.getInt("answer"), 42, "answer");
      expectEq(rs.getString("t"), "héllo", "t");
      expect(!rs.next(), "more than one row");
    }
    if (env.plaintext()) {
      expectEq(t.tap().count(from, '1'), 0, "ParseComplete messages (simple protocol has none)");
      expectEq(t.tap().count(from, 'Z'), 1, "ReadyForQuery messages");
    }
    return "simple-protocol Query returned answer=42, t='héllo' (UTF-8 round trip)";
  }

  /** Runs the two-statement string on c and checks both result sets. */
  static void twoResults(Connection c) throws Exception {
    try (Statement st = c.createStatement()) {
      expect(st.execute("select 1 as one; select 2 as two, 'x' as x"), "first result is not a result set");
      try (ResultSet rs = st.getResultSet()) {
        expect(rs.next(), "first result has no row");
        expectEq(rs.getMetaData().getColumnName(1), "one", "first result's column");
        expectEq(rs.getInt(1), 1, "first result");
        expect(!rs.next(), "first result has more rows");
      }
      expect(st.getMoreResults(), "no second result set");
      try (ResultSet rs = st.getResultSet()) {
        expect(rs.next(), "second result has no row");
        expectEq(rs.getMetaData().getColumnName(2), "x", "second result's second column");
        expectEq(rs.getInt(1) + "," + rs.getString(2), "2,x", "second result");
      }
      expect(!st.getMoreResults() && st.getUpdateCount() == -1, "an unexpected third result");
    }
  }

  static String multiStatement(Env env) throws Exception {
    // Simple mode: the whole string goes out in one Query message.
    Tapped simple = env.connectTapped("preferQueryMode", "simple");
    int from = simple.tap().mark();
    twoResults(simple.conn());
    // Default (extended) mode: pgjdbc splits the string into two Parse/Bind/Execute runs and
    // sends them together before a single Sync.
    Tapped extended = env.connectTapped();
    int from2 = extended.tap().mark();
    twoResults(extended.conn());
    if (env.plaintext()) {
      expectEq(simple.tap().count(from, 'T'), 2, "RowDescriptions (simple)");
      expectEq(simple.tap().count(from, '1'), 0, "ParseCompletes (simple)");
      expectEq(simple.tap().count(from, 'Z'), 1, "ReadyForQuery (simple)");
      expectEq(extended.tap().count(from2, '1'), 2, "ParseCompletes (extended)");
      expectEq(extended.tap().count(from2, 'Z'), 1, "ReadyForQuery (extended)");
    }
    return "simple mode: one Query, two result sets (1) and (2,'x'); extended mode: two statements before one "
        + "Sync, same results";
  }

  static String preparedReuseAcrossTx(Env env) throws Exception {
    // prepareThreshold=1: server-side (named) prepared statement from the first execution on.
    Tapped t = env.connectTapped("prepareThreshold", "1");
    Connection c = t.conn();
    c.setAutoCommit(false);
    int from = t.tap().markSent();
    int[] values = {3, -7, 0, 21, 123456};
    try (PreparedStatement ps = c.prepareStatement("select ?::int * 2")) {
      for (int v : values) {
        ps.setInt(1, v);
        try (ResultSet rs = ps.executeQuery()) {
          expect(rs.next(), "no row for " + v);
          expectEq(rs.getInt(1), v * 2, "result for " + v);
        }
        c.commit(); // each execution in its own transaction
        expect(ps.unwrap(PGStatement.class).isUseServerPrepare(), "statement not server-prepared");
      }
    }
    // Only the driver's side of the wire is asserted: a pooler may give the statement another
    // name on the server, and prepare it again on each server session it lands on, so
    // pg_prepared_statements of whatever session answers a later query proves nothing.
    if (!env.plaintext()) {
      return "statement server-prepared, executed " + values.length + " times in " + values.length
          + " transactions; x*2 right each time (Parse/Bind not inspected under TLS)";
    }
    List<Msg> sent = t.tap().sent();
    sent = sent.subList(Math.min(from, sent.size()), sent.size());
    List<String> names = new ArrayList<>();
    for (Msg m : sent) {
      if (m.type() == 'P') {
        List<String> f = m.cstrings(2);
        if (f.size() == 2 && f.get(1).equals("select $1::int * 2")) {
          names.add(f.get(0));
        }
      }
    }
    expectEq(names.size(), 1, "Parse messages for the statement");
    String name = names.get(0);
    expect(!name.isEmpty(), "the statement was parsed unnamed");
    int binds = 0;
    for (Msg m : sent) {
      if (m.type() == 'B') {
        List<String> f = m.cstrings(2);
        if (f.size() == 2 && f.get(1).equals(name)) {
          binds++;
        }
      }
    }
    expectEq(binds, values.length, "Binds of statement " + name);
    return "statement " + name + " parsed once, bound " + binds + " times in " + values.length
        + " transactions; x*2 right each time";
  }

  static String binaryResults(Env env) throws Exception {
    // binaryTransfer (on by default) only applies to server-prepared statements whose result types
    // are known, so the statement runs a few times with prepareThreshold=1; the last run must
    // return every column in binary.
    Connection c = env.connect("prepareThreshold", "1", "binaryTransfer", "true");
    String sql = "select 123456789012::int8, 3.5::float8, '\\xdeadbeef'::bytea, "
        + "'2024-01-02 03:04:05+00'::timestamptz, 12345.678::numeric";
    String detail = null;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int run = 1; run <= 3; run++) {
        try (ResultSet rs = ps.executeQuery()) {
          expect(rs.next(), "no row");
          expectEq(rs.getLong(1), 123456789012L, "int8");
          expectEq(rs.getDouble(2), 3.5, "float8");
          expectEq(HexFormat.of().formatHex(rs.getBytes(3)), "deadbeef", "bytea");
          OffsetDateTime ts = rs.getObject(4, OffsetDateTime.class);
          expect(ts.isEqual(OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC)), "timestamptz " + ts);
          expectEq(rs.getBigDecimal(5).compareTo(new BigDecimal("12345.678")), 0, "numeric " + rs.getBigDecimal(5));
          PGResultSetMetaData md = rs.getMetaData().unwrap(PGResultSetMetaData.class);
          List<Integer> formats = new ArrayList<>();
          for (int i = 1; i <= 5; i++) {
            formats.add(md.getFormat(i));
          }
          if (run == 3) {
            expectEq(formats, List.of(1, 1, 1, 1, 1), "result formats on the 3rd run (1 = binary)");
            detail = "formats " + formats;
          }
        }
      }
    }
    return "int8, float8, bytea, timestamptz, numeric equal on 3 runs; 3rd run all binary (" + detail + ")";
  }

  static String portalRowLimit(Env env) throws Exception {
    // Outside autocommit, setFetchSize(100) makes pgjdbc Execute a named portal with a 100-row
    // limit, the server answering PortalSuspended until the portal is exhausted.
    Tapped t = env.connectTapped();
    Connection c = t.conn();
    c.setAutoCommit(false);
    int from = t.tap().mark();
    long sum = 0;
    int rows = 0;
    boolean portalSeen = false;
    try (PreparedStatement ps = c.prepareStatement("select generate_series(1, 1000)")) {
      ps.setFetchSize(100);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          sum += rs.getInt(1);
          rows++;
          if (rows == 150) {
            // The open portal is visible to the session while it is suspended.
            // (pgjdbc names its portals C_n; the unnamed one is this very query.)
            portalSeen = ((Number) one(c, "select count(*) from pg_cursors where name <> '' "
                + "and statement = 'select generate_series(1, 1000)'")).intValue() == 1;
          }
        }
      }
    }
    c.commit();
    expectEq(rows, 1000, "rows");
    expectEq(sum, 500500L, "sum");
    expect(portalSeen, "the suspended portal is not in pg_cursors");
    String wire = "";
    if (env.plaintext()) {
      int suspended = t.tap().count(from, 's');
      expect(suspended >= 9, suspended + " PortalSuspended messages, want >= 9");
      wire = suspended + " PortalSuspended, ";
    }
    return "fetch size 100: " + wire + "portal listed in pg_cursors mid-way, 1000 rows, sum 500500";
  }

  static String copyIn(Env env) throws Exception {
    Connection c = env.connect();
    String table = "compat_copy_in_" + rand();
    exec(c, "create table " + quoteIdent(table) + " (id int not null, label text)");
    try {
      StringBuilder text = new StringBuilder();
      for (int i = 1; i <= 1000; i++) {
        // every 100th label is NULL; the others need COPY escaping (tab, backslash) and are non-ASCII
        text.append(i).append('\t').append(i % 100 == 0 ? "\\N" : "row\\t" + i + "\\\\é").append('\n');
      }
      CopyManager cm = c.unwrap(PGConnection.class).getCopyAPI();
      long n = cm.copyIn("copy " + quoteIdent(table) + " (id, label) from stdin", new StringReader(text.toString()));
      expectEq(n, 1000L, "rows reported by COPY");
      try (Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("select count(*), sum(id), count(label) from " + quoteIdent(table))) {
        expect(rs.next(), "no row");
        expectEq(rs.getLong(1) + "," + rs.getLong(2) + "," + rs.getLong(3), "1000,500500,990",
            "count, sum(id), count(label)");
      }
      expectEq(one(c, "select label from " + quoteIdent(table) + " where id = 7"), "row\t7\\é", "label of id 7");
    } finally {
      exec(c, "drop table if exists " + quoteIdent(table));
    }
    return "CopyManager.copyIn into " + table + ": 1000 rows, sum 500500, 10 NULLs, escaped text intact; table dropped";
  }

  static String copyOut(Env env) throws Exception {
    Connection c = env.connect();
    StringWriter out = new StringWriter();
    long n = c.unwrap(PGConnection.class).getCopyAPI()
        .copyOut("copy (select generate_series(1, 100)) to stdout", out);
    expectEq(n, 100L, "rows reported by COPY");
    String[] lines = out.toString().split("\n");
    expectEq(lines.length, 100, "lines");
    long sum = 0;
    for (String l : lines) {
      sum += Long.parseLong(l);
    }
    expectEq(sum, 5050L, "sum of lines");
    return "CopyManager.copyOut: 100 lines summing to 5050";
  }

  static String listenNotify(Env env) throws Exception {
    String token = rand();
    String channel = "chan_" + token;
    String payload = "payload-" + token;
    Connection a = env.connect();
    exec(a, "LISTEN " + quoteIdent(channel));
    Connection b = env.connect();
    // The pid in the notification is the server session's that ran NOTIFY. (BackendKeyData's pid
    // is not compared with it: a pooler hands out its own pid and key for cancelling.)
    int bPid = ((Number) one(b, "select pg_backend_pid()")).intValue();
    exec(b, "NOTIFY " + quoteIdent(channel) + ", " + quoteLiteral(payload));
    PGNotification[] got = a.unwrap(PGConnection.class).getNotifications(WAIT_MS);
    expect(got != null && got.length > 0, "no notification within " + WAIT_MS + " ms");
    PGNotification n = got[0];
    expectEq(n.getName() + "|" + n.getParameter() + "|" + n.getPID(), channel + "|" + payload + "|" + bPid,
        "notification channel|payload|pid");
    return "A got NOTIFY " + channel + " '" + payload + "' from B's pid " + bPid;
  }

  static String cancel(Env env) throws Exception {
    Connection c = env.connect();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(daemon("cancel-timer"));
    long started = System.nanoTime();
    try (Statement st = c.createStatement()) {
      // Statement.cancel() sends a CancelRequest on a new connection.
      timer.schedule(() -> {
        try {
          st.cancel();
        } catch (SQLException ignored) {
          // the assertion below reports a cancel that did not happen
        }
      }, 500, TimeUnit.MILLISECONDS);
      st.executeQuery("select pg_sleep(30)").close();
      throw new CheckFailed("pg_sleep(30) was not cancelled");
    } catch (SQLException e) {
      expectEq(e.getSQLState(), "57014", "SQLSTATE");
    } finally {
      timer.shutdownNow();
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    expect(ms < WAIT_MS, "cancelled only after " + ms + " ms");
    expectEq(((Number) one(c, "select 1")).intValue(), 1, "select 1 on the same connection");
    return "Statement.cancel() after 500 ms: SQLSTATE 57014 after " + ms + " ms; the connection still answers";
  }

  static String errorMidPipeline(Env env) throws Exception {
    Tapped t = env.connectTapped();
    Connection c = t.conn();
    String table = "compat_batch_" + rand();
    exec(c, "create table " + quoteIdent(table) + " (v int)");
    String detail;
    try {
      int from = t.tap().mark();
      int[] counts = null;
      SQLException error = null;
      try (Statement st = c.createStatement()) {
        // executeBatch pipelines the statements: all go out before one Sync.
        st.addBatch("insert into " + quoteIdent(table) + " values (1)");
        st.addBatch("insert into " + quoteIdent(table) + " values (1/0)");
        st.addBatch("insert into " + quoteIdent(table) + " values (3)");
        try {
          st.executeBatch();
          throw new CheckFailed("the batch did not fail");
        } catch (BatchUpdateException e) {
          counts = e.getUpdateCounts();
          error = e.getNextException() != null ? e.getNextException() : e;
        }
      }
      expectEq(error.getSQLState(), "22012", "SQLSTATE of the failing statement");
      // pgjdbc reports every statement of the batch as EXECUTE_FAILED: the error rolled back the
      // batch's implicit transaction, the first insert included. That the first insert did run
      // shows on the wire: its CommandComplete arrives before the ErrorResponse.
      expect(counts != null && counts.length == 3 && counts[1] == Statement.EXECUTE_FAILED
          && counts[2] == Statement.EXECUTE_FAILED, "update counts " + Arrays.toString(counts));
      String wire = "";
      if (env.plaintext()) {
        String order = "";
        List<Msg> msgs = t.tap().messages();
        for (Msg m : msgs.subList(from, msgs.size())) {
          if ("CEZ".indexOf(m.type()) >= 0) {
            order += m.type();
          }
        }
        // CommandComplete (first insert), ErrorResponse (1/0), then nothing until ReadyForQuery.
        expectEq(order, "CEZ", "CommandComplete/ErrorResponse/ReadyForQuery sequence");
        wire = "one Sync for 3 statements, first insert's CommandComplete then ErrorResponse 22012, third skipped; ";
      }
      // In autocommit the pipelined batch is one implicit transaction: the error undid insert 1.
      expectEq(((Number) one(c, "select count(*) from " + quoteIdent(table))).intValue(), 0,
          "rows left (implicit transaction rolled back)");
      expectEq(((Number) one(c, "select 1")).intValue(), 1, "select 1 after the batch");
      detail = "executeBatch: " + wire + "update counts " + Arrays.toString(counts)
          + ", implicit transaction rolled back; conn usable";
    } finally {
      exec(c, "drop table if exists " + quoteIdent(table));
    }
    return detail;
  }

  static String setNotLeaking(Env env) throws Exception {
    String leak = "leak_test_" + rand();
    String probe = "select current_setting('statement_timeout') || '|' || current_setting('application_name')";
    Connection baseline = env.connect();
    String defaults = (String) one(baseline, probe);
    baseline.close();
    expect(!defaults.startsWith("1234ms|") && !defaults.endsWith("|" + leak), "odd defaults " + defaults);

    Connection a = env.connect();
    exec(a, "SET application_name = " + quoteLiteral(leak));
    exec(a, "SET statement_timeout = '1234ms'");
    expectEq(a.unwrap(PGConnection.class).getParameterStatus("application_name"), leak,
        "ParameterStatus application_name on A");

    Connection b = env.connect(); // opened while A is open
    expectEq(one(b, probe), defaults, "B's statement_timeout|application_name");
    expect(!"1234ms".equals(one(b, "show statement_timeout")), "B's SHOW statement_timeout is A's 1234ms");
    expect(!leak.equals(b.unwrap(PGConnection.class).getParameterStatus("application_name")),
        "B got A's application_name as ParameterStatus");

    a.setAutoCommit(false);
    expectEq(one(a, probe), "1234ms|" + leak, "A's own settings in a later transaction");
    a.commit();
    a.close();

    Connection c = env.connect(); // opened after A is gone: a recycled server session must have been reset
    expectEq(one(c, probe), defaults, "C's statement_timeout|application_name after A closed");
    return "A keeps 1234ms/" + leak + "; B (A open) and C (A closed) see the defaults '" + defaults + "'";
  }

  static String catalogQueries(Env env) throws Exception {
    Connection c = env.connect();
    String version = (String) one(c, "select pg_catalog.version()");
    expect(version.contains("PostgreSQL"), "version() = " + version);
    expectEq(one(c, "SHOW TRANSACTION ISOLATION LEVEL"), "read committed", "transaction isolation");
    String schemas = String.valueOf(one(c, "select array_to_string(current_schemas(true), ',')"));
    expect(Arrays.asList(schemas.split(",")).contains("pg_catalog"), "current_schemas(true) = " + schemas);
    List<String> tables = strings(c,
        "select table_name from information_schema.tables where table_schema = 'pg_catalog' order by 1");
    expect(tables.contains("pg_class"), "information_schema.tables lists " + tables.size() + " tables, no pg_class");
    List<String> nsp = strings(c, "select n.nspname from pg_catalog.pg_namespace n order by 1");
    expect(nsp.contains("public") && nsp.contains("pg_catalog"), "pg_namespace = " + nsp);

    // The catalog queries BI tools (Metabase, DBeaver) send through DatabaseMetaData.
    DatabaseMetaData md = c.getMetaData();
    expectEq(md.getDatabaseProductName(), "PostgreSQL", "getDatabaseProductName");
    Set<String> mdSchemas = new LinkedHashSet<>();
    try (ResultSet rs = md.getSchemas()) {
      while (rs.next()) {
        mdSchemas.add(rs.getString("TABLE_SCHEM"));
      }
    }
    expect(mdSchemas.containsAll(List.of("public", "pg_catalog", "information_schema")), "getSchemas = " + mdSchemas);
    try (ResultSet rs = md.getTables(null, "pg_catalog", "pg_class", null)) {
      expect(rs.next(), "getTables(pg_catalog, pg_class) is empty");
      expectEq(rs.getString("TABLE_NAME") + "|" + rs.getString("TABLE_TYPE"), "pg_class|SYSTEM TABLE", "getTables row");
    }
    try (ResultSet rs = md.getColumns(null, "pg_catalog", "pg_namespace", "nspname")) {
      expect(rs.next(), "getColumns(pg_namespace.nspname) is empty");
      expectEq(rs.getString("TYPE_NAME"), "name", "type of pg_namespace.nspname");
    }
    int types = 0;
    boolean int4 = false;
    try (ResultSet rs = md.getTypeInfo()) {
      while (rs.next()) {
        types++;
        int4 |= "int4".equals(rs.getString("TYPE_NAME"));
      }
    }
    expect(int4, "getTypeInfo has no int4 among " + types + " types");
    // ParameterStatus values reported at startup agree with SHOW.
    PGConnection pg = c.unwrap(PGConnection.class);
    for (String name : List.of("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone")) {
      expectEq(pg.getParameterStatus(name), one(c, "show " + quoteIdent(name)), "ParameterStatus " + name);
    }
    for (String name : List.of("integer_datetimes", "standard_conforming_strings")) {
      expectEq(pg.getParameterStatus(name), "on", "ParameterStatus " + name);
    }
    return "version() has PostgreSQL; read committed; current_schemas has pg_catalog; " + tables.size()
        + " pg_catalog tables; " + nsp.size() + " namespaces incl. public; DatabaseMetaData getSchemas/getTables/"
        + "getColumns/getTypeInfo (" + types + " types) right; ParameterStatus matches SHOW";
  }

  static String terminateBackend(Env env) throws Exception {
    Connection a = env.connect();
    // The server session's pid, as the server knows it (BackendKeyData's pid may be a pooler's own).
    int pid = ((Number) one(a, "select pg_backend_pid()")).intValue();
    ExecutorService bg = Executors.newSingleThreadExecutor(daemon("terminate-sleeper"));
    try {
      Future<SQLException> sleeper = bg.submit(() -> {
        try (Statement st = a.createStatement()) {
          st.executeQuery("select pg_sleep(30)").close();
          return null;
        } catch (SQLException e) {
          return e;
        }
      });
      Thread.sleep(500);
      Connection b = env.connect();
      long started = System.nanoTime();
      try (PreparedStatement ps = b.prepareStatement("select pg_terminate_backend(?)")) {
        ps.setInt(1, pid);
        try (ResultSet rs = ps.executeQuery()) {
          expect(rs.next() && rs.getBoolean(1), "pg_terminate_backend(" + pid + ") did not return true");
        }
      }
      SQLException err;
      try {
        err = sleeper.get(WAIT_MS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        throw new CheckFailed("A's query still running " + WAIT_MS + " ms after pg_terminate_backend");
      }
      long ms = (System.nanoTime() - started) / 1_000_000;
      expect(err != null, "A's pg_sleep(30) returned normally");
      String how;
      if ("57P01".equals(err.getSQLState())) {
        how = "SQLSTATE 57P01 (admin_shutdown)";
      } else if (err.getSQLState() != null && err.getSQLState().startsWith("08")) {
        how = "connection closed (SQLSTATE " + err.getSQLState() + ": " + err.getMessage() + ")";
      } else {
        throw new CheckFailed("A failed with an unexpected error: " + err.getSQLState() + " " + err.getMessage());
      }
      expect(a.isClosed() || !a.isValid(1), "A's connection still valid");
      expectEq(((Number) one(b, "select 1")).intValue(), 1, "select 1 on B");
      return "pg_terminate_backend(" + pid + ") = true; A failed with " + how + " after " + ms + " ms; B still answers";
    } finally {
      bg.shutdownNow();
    }
  }

  static String tlsConnect(Env env) throws Exception {
    // --sslmode applies to every scenario; this one needs TLS, so 'disable' is read as 'require'.
    String mode = "disable".equals(env.opts.sslmode()) ? "require" : env.opts.sslmode();
    Tapped t;
    try {
      t = env.connectTapped("sslmode", mode);
    } catch (SQLException e) {
      throw new CheckFailed("TLS connection (sslmode=" + mode + ") failed: " + e.getMessage());
    }
    // The server accepted the SSLRequest ('S') and what followed is a TLS handshake record (0x16).
    byte[] raw = t.tap().raw();
    expect(raw.length >= 2 && raw[0] == 'S' && raw[1] == 0x16,
        "no TLS negotiation seen on the wire (first bytes " + HexFormat.of().formatHex(raw, 0, Math.min(2, raw.length))
            + ")");
    expectEq(((Number) one(t.conn(), "select 1")).intValue(), 1, "select 1");
    return "sslmode=" + mode + ": SSLRequest accepted, TLS handshake, select 1 = 1";
  }

  // ------------------------------------------------------------------------------------------

  static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread th = new Thread(r, name);
      th.setDaemon(true);
      return th;
    };
  }

  static String runOne(String name, Options opts, StringBuilder detail) {
    Env env = new Env(opts);
    ExecutorService ex = Executors.newSingleThreadExecutor(daemon("scenario-" + name));
    Future<String> f = ex.submit(() -> SCENARIOS.get(name).run(env));
    try {
      detail.append(f.get(SCENARIO_TIMEOUT_MS, TimeUnit.MILLISECONDS));
      env.closeAll();
      return "true";
    } catch (TimeoutException e) {
      f.cancel(true);
      // Leave the stuck thread behind (it is a daemon); close its connections out of band.
      daemon("close-" + name).newThread(env::closeAll).start();
      detail.append("timed out after ").append(SCENARIO_TIMEOUT_MS / 1000).append(" s");
      return "false";
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof CheckFailed) {
        detail.append(cause.getMessage());
      } else if (cause instanceof SQLException se) {
        detail.append("SQLException ").append(se.getSQLState()).append(": ").append(se.getMessage());
      } else {
        detail.append(cause.getClass().getSimpleName()).append(": ").append(cause.getMessage());
      }
      env.closeAll();
      return "false";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      detail.append("interrupted");
      return "false";
    } finally {
      ex.shutdownNow();
    }
  }

  static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (ch < 0x20) {
            b.append(String.format("\\u%04x", (int) ch));
          } else {
            b.append(ch);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  static void usage(String message) {
    System.err.println("compat: " + message);
    System.err.println("usage: java -jar compat.jar --host H --port P --user U --password W --database D "
        + "[--sslmode disable|require|verify-full] [--sslrootcert FILE] [--only name1,name2,...] [--list]");
    System.exit(2);
  }

  public static void main(String[] args) {
    Map<String, String> a = new LinkedHashMap<>();
    boolean list = false;
    Set<String> valued = Set.of("host", "port", "user", "password", "database", "sslmode", "sslrootcert", "only");
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--list")) {
        list = true;
        continue;
      }
      if (!arg.startsWith("--")) {
        usage("unexpected argument " + arg);
      }
      String key = arg.substring(2);
      String value = null;
      int eq = key.indexOf('=');
      if (eq >= 0) {
        value = key.substring(eq + 1);
        key = key.substring(0, eq);
      }
      if (!valued.contains(key)) {
        usage("unknown option --" + key);
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          usage("--" + key + " needs a value");
        }
        value = args[++i];
      }
      a.put(key, value);
    }
    if (list) {
      SCENARIOS.keySet().forEach(System.out::println);
      return;
    }
    List<String> missing = new ArrayList<>();
    for (String k : List.of("host", "port", "user", "password", "database")) {
      if (!a.containsKey(k)) {
        missing.add("--" + k);
      }
    }
    if (!missing.isEmpty()) {
      usage("missing " + String.join(", ", missing));
    }
    int port = 0;
    try {
      port = Integer.parseInt(a.get("port"));
    } catch (NumberFormatException e) {
      usage("--port must be a number");
    }
    String sslmode = a.getOrDefault("sslmode", "disable");
    if (!List.of("disable", "require", "verify-full").contains(sslmode)) {
      usage("--sslmode must be disable, require or verify-full");
    }
    Set<String> selected = new LinkedHashSet<>();
    if (a.containsKey("only")) {
      for (String n : a.get("only").split(",")) {
        n = n.trim();
        if (n.isEmpty()) {
          continue;
        }
        if (!SCENARIOS.containsKey(n)) {
          usage("unknown scenario in --only: " + n);
        }
        selected.add(n);
      }
      if (selected.isEmpty()) {
        usage("--only names no scenario");
      }
    } else {
      for (String n : SCENARIOS.keySet()) {
        if (!NOT_BY_DEFAULT.contains(n)) {
          selected.add(n);
        }
      }
    }
    Options opts = new Options(a.get("host"), port, a.get("user"), a.get("password"), a.get("database"), sslmode,
        a.get("sslrootcert"));

    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    for (String name : SCENARIOS.keySet()) {
      if (!selected.contains(name)) {
        continue;
      }
      StringBuilder detail = new StringBuilder();
      String ok = runOne(name, opts, detail);
      out.println("{\"scenario\":" + json(name) + ",\"ok\":" + ok + ",\"detail\":" + json(detail.toString()) + "}");
    }
    out.flush();
    // Threads of timed-out scenarios may still hold connections: leave without waiting for them.
    System.exit(0);
  }
}
