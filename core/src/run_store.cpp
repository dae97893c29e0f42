#include "run_store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "plan.hpp"
#include "tributary/control.hpp"
#include "tributary/version.hpp"

namespace tributary::core {

namespace fs = std::filesystem;

std::string default_store_path(const std::string& chosen) {
  fs::path path = fs::path("runs") / "tributary.db";
  if (!chosen.empty()) {
    path = chosen;
  } else if (const char* env = std::getenv("TRIBUTARY_STORE"); env != nullptr && *env != '\0') {
    path = env;
  }
  return fs::absolute(path).lexically_normal().string();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

bool lower_is_better(const std::string& name) {
  for (const char* word : {"loss", "error", "fpr", "fnr", "eta", "perplexity", "mse", "mae"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

namespace {

const char* const kWhatToDo =
    "move the file away (the store starts afresh), record elsewhere with --store PATH or "
    "TRIBUTARY_STORE, or run without it with --no-store";

// The statements that make schema 3, in one transaction. A metric series (a run's node and
// metric name) is a row of `series`; each point names its series by the integer id, and recording
// a point adds one row to `points` and nothing else: no text, no index. Each series row keeps what
// readers ask for without reading the points (their count, last, lowest and highest values, the
// steps of these), and the range of rowids its points lie in, which a reader of its points scans.
const char* const kSchema = R"(
CREATE TABLE IF NOT EXISTS store_schema(version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  pipeline_path TEXT NOT NULL DEFAULT '',
  run_dir TEXT NOT NULL DEFAULT '',
  pipeline_text TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  failed_node TEXT NOT NULL DEFAULT '',
  start_time REAL NOT NULL,
  end_time REAL,
  heartbeat REAL,
  host TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  process TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '',
  threads INTEGER NOT NULL DEFAULT 0,
  resumed_from TEXT NOT NULL DEFAULT '',
  points INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS nodes(rid INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
  family TEXT NOT NULL, library TEXT NOT NULL, version TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS nodes_by_run ON nodes(rid);
CREATE TABLE IF NOT EXISTS hyperparameters(rid INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(sid INTEGER PRIMARY KEY, rid INTEGER NOT NULL, node TEXT NOT NULL,
  name TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0, first_row INTEGER, last_row INTEGER, last REAL,
  last_step INTEGER, low REAL, low_step INTEGER, high REAL, high_step INTEGER, UNIQUE(rid, node, name));
CREATE TABLE IF NOT EXISTS points(sid INTEGER NOT NULL, time REAL NOT NULL, step INTEGER NOT NULL,
  epoch INTEGER NOT NULL, value REAL);
CREATE TABLE IF NOT EXISTS logs(rid INTEGER NOT NULL, time REAL NOT NULL, node TEXT NOT NULL,
  level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs(rid);
CREATE TABLE IF NOT EXISTS events(rid INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL,
  node TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_run ON events(rid);
CREATE TABLE IF NOT EXISTS checkpoints(rid INTEGER NOT NULL, time REAL NOT NULL, node TEXT NOT NULL,
  path TEXT NOT NULL, step INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT '{}', best INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS checkpoints_by_run ON checkpoints(rid);
)";

// Schema 1 kept every point's node and metric name as text in `metrics(rid, time, node, name,
// step, epoch, value)`, indexed by (rid, name). Schema 2 gives each run's series an id, in the
// order the series first appeared, and keeps the points in their recorded order.
const char* const kSchema1To2 = R"(
CREATE TABLE series(sid INTEGER PRIMARY KEY, rid INTEGER NOT NULL, node TEXT NOT NULL,
  name TEXT NOT NULL, UNIQUE(rid, node, name));
CREATE TABLE points(sid INTEGER NOT NULL, time REAL NOT NULL, step INTEGER NOT NULL,
  epoch INTEGER NOT NULL, value REAL);
INSERT INTO series(rid, node, name) SELECT rid, node, name FROM metrics GROUP BY rid, node, name ORDER BY min(rowid);
INSERT INTO points(sid, time, step, epoch, value)
  SELECT s.sid, m.time, m.step, m.epoch, m.value FROM metrics AS m CROSS JOIN series AS s
  ON s.rid = m.rid AND s.node = m.node AND s.name = m.name ORDER BY m.rowid;
CREATE INDEX points_by_series ON points(sid);
DROP TABLE metrics;
)";

// Schema 3 keeps each series' summary and rowid range in its row, and drops the index on the
// points (its upkeep was most of the recorder's work). Values that are not numbers (stored NULL)
// are no candidates for the lowest and highest.
const char* const kSchema2To3 = R"(
ALTER TABLE series ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE series ADD COLUMN first_row INTEGER;
ALTER TABLE series ADD COLUMN last_row INTEGER;
ALTER TABLE series ADD COLUMN last REAL;
ALTER TABLE series ADD COLUMN last_step INTEGER;
ALTER TABLE series ADD COLUMN low REAL;
ALTER TABLE series ADD COLUMN low_step INTEGER;
ALTER TABLE series ADD COLUMN high REAL;
ALTER TABLE series ADD COLUMN high_step INTEGER;
UPDATE series SET count = (SELECT count(*) FROM points WHERE sid = series.sid),
  first_row = (SELECT min(rowid) FROM points WHERE sid = series.sid),
  last_row = (SELECT max(rowid) FROM points WHERE sid = series.sid),
  low = (SELECT min(value) FROM points WHERE sid = series.sid),
  high = (SELECT max(value) FROM points WHERE sid = series.sid);
UPDATE series SET
  last = (SELECT value FROM points WHERE sid = series.sid ORDER BY rowid DESC LIMIT 1),
  last_step = (SELECT step FROM points WHERE sid = series.sid ORDER BY rowid DESC LIMIT 1),
  low_step = (SELECT step FROM points WHERE sid = series.sid AND value = series.low ORDER BY rowid LIMIT 1),
  high_step = (SELECT step FROM points WHERE sid = series.sid AND value = series.high ORDER BY rowid LIMIT 1);
DROP INDEX points_by_series;
)";

// Steps from each older schema to the next; migrations[v - 1] takes schema v to v + 1.
const std::vector<const char*> kMigrations = {kSchema1To2, kSchema2To3};

double now_s() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// A process's identity across pid reuse and reboots: the boot's id and the process's start time.
std::string process_identity(long pid) {
  std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Field 22 (starttime); fields 1 and 2 came before the ')'.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return read_first_line("/proc/sys/kernel/random/boot_id") + ":" + field;
}

// Runs from other hosts count as gone once their heartbeat is this old.
constexpr double kForeignHeartbeatTimeout_s = 120.0;

}  // namespace

// ---- SQLite, thinly ---------------------------------------------------------------------------
struct RunStore::Db {
  sqlite3* handle = nullptr;
  std::string path;
  ~Db() {
    if (handle != nullptr) sqlite3_close_v2(handle);
  }
  std::string message() const { return handle != nullptr ? sqlite3_errmsg(handle) : "out of memory"; }
  int code() const { return handle != nullptr ? sqlite3_extended_errcode(handle) : SQLITE_NOMEM; }

  [[noreturn]] void fail(const std::string& doing) const {
    int primary = code() & 0xff;
    std::string advice;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
      advice = "the file is damaged or not a run store; it was left as it is: " + std::string(kWhatToDo);
    } else if (primary == SQLITE_FULL) {
      advice = "the disk is full: free space, or record elsewhere with --store PATH";
    } else if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM) {
      advice =
          "the file or its folder cannot be written: check their permissions, or record elsewhere with --store PATH";
    } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      advice = "another process holds the store for too long; try again";
    } else if (primary == SQLITE_IOERR) {
      advice = "the disk reported an error: check it, or record elsewhere with --store PATH";
    }
    throw StoreError("run store " + path + ": " + doing + ": " + message() + (advice.empty() ? "" : "; " + advice));
  }
  void exec(const char* sql, const std::string& doing) const {
    char* error = nullptr;
    int rc = sqlite3_exec(handle, sql, nullptr, nullptr, &error);
    sqlite3_free(error);
    if (rc != SQLITE_OK) fail(doing);
  }
};

namespace {

using Db = RunStore::Db;

class Statement {
 public:
  Statement(const Db& db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle, sql, -1, &stmt_, nullptr) != SQLITE_OK) db.fail("preparing a query");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  Statement& bind_static(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  // The result code of one step, for a caller that handles SQLITE_BUSY itself.
  int try_step() { return sqlite3_step(stmt_); }
  // True while there is a row; throws on an error.
  bool step(const std::string& doing) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail(doing);
  }
  void run(const std::string& doing) {
    step(doing);
    reset();
  }
  // One step of a statement whose every parameter is bound again before the next.
  void step_once(const std::string& doing) {
    step(doing);
    sqlite3_reset(stmt_);
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int i) const {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }
  double real(int i) const { return sqlite3_column_double(stmt_, i); }
  std::int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }

 private:
  const Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The store's schema version, 0 for an empty database; throws for a newer one, or for a
// database of something else.
int schema_version(const Db& db) {
  Statement exists(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='store_schema'");
  exists.step("reading its schema");
  int version = 0;
  if (exists.integer(0) > 0) {
    Statement v(db, "SELECT max(version) FROM store_schema");
    if (v.step("reading its schema version")) version = static_cast<int>(v.integer(0));
  } else {
    Statement tables(db, "SELECT count(*) FROM sqlite_master WHERE type='table'");
    tables.step("reading its schema");
    if (tables.integer(0) > 0) {
      throw StoreError("run store " + db.path +
                       ": is an SQLite database of something else (it has tables but no store_schema); it was left "
                       "as it is; " +
                       kWhatToDo);
    }
  }
  if (version > kStoreSchemaVersion) {
    throw StoreError("run store " + db.path + ": has schema version " + std::to_string(version) +
                     ", newer than this tributary's (" + std::to_string(kStoreSchemaVersion) +
                     "); it was left as it is: use the newer tributary, or record elsewhere with --store PATH");
  }
  return version;
}

// Opens a store that is there for reading only: nothing is created, migrated or written.
std::unique_ptr<Db> open_db_to_read(const std::string& path) {
  auto db = std::make_unique<Db>();
  db->path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StoreError("run store " + path + ": does not exist yet; a recorded run creates it");
  if (fs::is_directory(path, ec))
    throw StoreError("run store " + path + ": is a folder, not a database file; name a file with --store PATH");
  int rc = sqlite3_open_v2(path.c_str(), &db->handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) db->fail("cannot open it");
  sqlite3_extended_result_codes(db->handle, 1);
  sqlite3_busy_timeout(db->handle, 10000);
  db->exec("SELECT count(*) FROM sqlite_master", "cannot read it");
  int version = schema_version(*db);
  if (version < kStoreSchemaVersion) {
    throw StoreError("run store " + path + ": has schema version " + std::to_string(version) +
                     ", older than this tributary's (" + std::to_string(kStoreSchemaVersion) +
                     "); a run or `tributary runs list` brings it up to date");
  }
  return db;
}

// Opens, checks and brings the schema up to date. Nothing is written to a file that is not a
// SQLite database, nor to one whose schema is newer than this build's.
std::unique_ptr<Db> open_db(const std::string& path) {
  auto db = std::make_unique<Db>();
  db->path = path;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (fs::is_directory(path, ec))
      throw StoreError("run store " + path + ": is a folder, not a database file; name a file with --store PATH");
  } else {
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec)
      throw StoreError("run store " + path + ": cannot create its folder " + parent.string() + ": " + ec.message() +
                       "; record elsewhere with --store PATH, or run without it with --no-store");
  }
  int rc = sqlite3_open_v2(path.c_str(), &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) db->fail("cannot open it");
  sqlite3_extended_result_codes(db->handle, 1);
  sqlite3_busy_timeout(db->handle, 10000);
  // Reading the schema is where a damaged file, or one that is not a database, shows itself. The
  // file is never read other than through SQLite: closing another descriptor of it would drop the
  // process's locks on it (POSIX locks belong to the process), and with them its writes' safety.
  db->exec("SELECT count(*) FROM sqlite_master", "cannot read it");
  if (sqlite3_db_readonly(db->handle, "main") == 1) {
    throw StoreError("run store " + path +
                     ": cannot be written (read-only file or folder); check the permissions, record elsewhere "
                     "with --store PATH, or run without it with --no-store");
  }
  // Everything is checked before anything is written: a file that is not a store of this
  // schema or an older one stays exactly as it was.
  int version = schema_version(*db);
  // WAL mode stays with the file: set once, by whichever writer comes first. Switching needs the
  // file to itself for a moment, which SQLite may refuse at once (not through the busy handler)
  // while another process opens it: that is retried.
  for (int attempt = 0;; ++attempt) {
    std::string current;
    {
      Statement mode(*db, "PRAGMA journal_mode");
      if (mode.step("cannot read its journal mode")) current = mode.text(0);
    }
    if (current == "wal") break;
    Statement to_wal(*db, "PRAGMA journal_mode=WAL");
    int step_rc = to_wal.try_step();
    if (step_rc == SQLITE_ROW || step_rc == SQLITE_DONE) break;
    if (((step_rc & 0xff) != SQLITE_BUSY && (step_rc & 0xff) != SQLITE_LOCKED) || attempt >= 200)
      db->fail("cannot switch it to WAL mode");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // With WAL, NORMAL keeps every committed batch across a crash of the process; power loss may
  // lose the last few, never the file.
  db->exec("PRAGMA synchronous=NORMAL", "cannot set it up");
  if (version == kStoreSchemaVersion) return db;
  db->exec("BEGIN IMMEDIATE", "cannot lock it to set up its schema");
  try {
    version = schema_version(*db);  // another process may have set it up meanwhile
    if (version == 0) {
      db->exec(kSchema, "creating its tables");
      Statement v(*db, "INSERT INTO store_schema(version) VALUES (?)");
      v.bind(1, kStoreSchemaVersion).run("creating its tables");
      version = kStoreSchemaVersion;
    }
    for (int v = version; v < kStoreSchemaVersion; ++v) {
      db->exec(kMigrations[static_cast<std::size_t>(v - 1)],
               "migrating it from schema " + std::to_string(v) + " to " + std::to_string(v + 1));
      Statement up(*db, "UPDATE store_schema SET version = ?");
      up.bind(1, v + 1).run("migrating it");
    }
    db->exec("COMMIT", "committing its schema");
  } catch (...) {
    sqlite3_exec(db->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return db;
}

std::int64_t run_rowid(const Db& db, const std::string& id) {
  Statement q(db, "SELECT rid FROM runs WHERE id = ?");
  q.bind(1, id);
  if (q.step("looking up run " + id)) return q.integer(0);
  return -1;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

// ---- reading the store ------------------------------------------------------------------------
RunStore::RunStore(const std::string& path, StoreAccess access)
    : path_(path), db_(access == StoreAccess::read ? open_db_to_read(path) : open_db(path)) {
  if (access == StoreAccess::write) mark_interrupted();
}
RunStore::~RunStore() = default;

int RunStore::mark_interrupted() {
  struct Candidate {
    std::int64_t rid;
    std::string host, process;
    std::int64_t pid;
    double heartbeat;
  };
  std::vector<Candidate> running;
  {
    Statement q(*db_,
                "SELECT rid, host, pid, process, coalesce(heartbeat, start_time) FROM runs WHERE status='running'");
    while (q.step("listing running runs"))
      running.push_back({q.integer(0), q.text(1), q.text(3), q.integer(2), q.real(4)});
  }
  std::string here = host_name();
  double now = now_s();
  int marked = 0;
  for (const auto& c : running) {
    bool gone = false;
    if (c.host == here) {
      // The same host: the process is gone, or its pid now belongs to another one, or the host rebooted.
      gone = c.pid <= 0 || process_identity(static_cast<long>(c.pid)) != c.process;
    } else {
      gone = now - c.heartbeat > kForeignHeartbeatTimeout_s;
    }
    if (!gone) continue;
    Statement up(*db_,
                 "UPDATE runs SET status='interrupted', end_time=heartbeat, reason=? WHERE rid=? AND status='running'");
    up.bind(1, "its process (pid " + std::to_string(c.pid) + " on " + c.host +
                   ") ended without closing the run (killed, crashed or power lost); the data up to its last "
                   "write is kept")
        .bind(2, c.rid)
        .run("marking an interrupted run");
    ++marked;
  }
  return marked;
}

namespace {
StoredRun read_run(const Statement& q) {
  StoredRun r;
  r.id = q.text(0);
  r.name = q.text(1);
  r.pipeline_path = q.text(2);
  r.run_dir = q.text(3);
  r.status = q.text(4);
  r.reason = q.text(5);
  r.host = q.text(6);
  r.version = q.text(7);
  r.resumed_from = q.text(8);
  r.start_time = q.real(9);
  r.end_time = q.real(10);
  r.points = q.integer(11);
  return r;
}
const char* const kRunColumns =
    "SELECT id, name, pipeline_path, run_dir, status, reason, host, version, resumed_from, start_time, "
    "coalesce(end_time, 0), points FROM runs ";
}  // namespace

std::vector<StoredRun> RunStore::runs(const std::string& pipeline, const std::string& status) {
  std::string sql =
      std::string(kRunColumns) + "WHERE (?1 = '' OR name = ?1) AND (?2 = '' OR status = ?2) ORDER BY start_time, rid";
  Statement q(*db_, sql.c_str());
  q.bind(1, pipeline).bind(2, status);
  std::vector<StoredRun> out;
  while (q.step("listing runs")) out.push_back(read_run(q));
  return out;
}

StoredRun RunStore::run(const std::string& id) {
  std::string sql = std::string(kRunColumns) + "WHERE id = ?";
  Statement q(*db_, sql.c_str());
  q.bind(1, id);
  if (q.step("reading run " + id)) return read_run(q);
  std::vector<std::pair<std::size_t, std::string>> near;
  Statement all(*db_, "SELECT id FROM runs ORDER BY start_time DESC");
  while (all.step("listing runs")) {
    std::string other = all.text(0);
    // A prefix of an id (its date, say) is near it whatever the length of the rest.
    std::size_t d = other.rfind(id, 0) == 0 || other.find(id) != std::string::npos ? 0 : edit_distance(id, other);
    near.emplace_back(d, other);
  }
  std::stable_sort(near.begin(), near.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string list;
  for (std::size_t i = 0; i < near.size() && i < 3; ++i) list += (i ? ", " : "") + near[i].second;
  throw StoreError("no run '" + id + "' in " + path_ +
                   (list.empty() ? " (it holds no runs yet)" : "; nearest: " + list) +
                   " (`tributary runs list` lists them)");
}

std::string RunStore::pipeline_text(const std::string& id) {
  Statement q(*db_, "SELECT pipeline_text FROM runs WHERE id = ?");
  q.bind(1, id);
  return q.step("reading run " + id) ? q.text(0) : std::string();
}

std::vector<std::pair<std::string, std::string>> RunStore::hyperparameters(const std::string& id) {
  Statement q(*db_,
              "SELECT key, value FROM hyperparameters WHERE rid = (SELECT rid FROM runs WHERE id = ?) ORDER BY key");
  q.bind(1, id);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step("reading hyperparameters")) out.emplace_back(q.text(0), q.text(1));
  return out;
}

std::vector<std::pair<std::string, std::string>> RunStore::plugins(const std::string& id) {
  Statement q(*db_,
              "SELECT DISTINCT family || ' ' || version, library FROM nodes WHERE rid = (SELECT rid FROM runs WHERE "
              "id = ?) ORDER BY 1");
  q.bind(1, id);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step("reading plugins")) out.emplace_back(q.text(0), q.text(1));
  return out;
}

namespace {
// A series' summary as its row keeps it.
const char* const kSummaryColumns =
    "SELECT node, name, count, coalesce(last, 0), coalesce(last_step, -1), low, coalesce(low_step, -1), high, "
    "coalesce(high_step, -1) FROM series ";
MetricSummary read_summary(const Statement& q) {
  MetricSummary s;
  s.node = q.text(0);
  s.name = q.text(1);
  s.count = q.integer(2);
  s.last = q.real(3);
  s.last_step = q.integer(4);
  s.lower_is_better = lower_is_better(s.name);
  s.best = s.lower_is_better ? q.real(5) : q.real(7);
  s.best_step = s.lower_is_better ? q.integer(6) : q.integer(8);
  return s;
}
}  // namespace

std::vector<MetricSummary> RunStore::metric_summaries(const std::string& id) {
  std::int64_t rid = run_rowid(*db_, id);
  std::string sql = std::string(kSummaryColumns) + "WHERE rid = ? AND count > 0 ORDER BY node, name";
  Statement q(*db_, sql.c_str());
  q.bind(1, rid);
  std::vector<MetricSummary> out;
  while (q.step("reading metrics")) out.push_back(read_summary(q));
  return out;
}

std::vector<MetricSummary> RunStore::metric_series(const std::string& id) {
  std::int64_t rid = run_rowid(*db_, id);
  Statement q(*db_, "SELECT node, name, count FROM series WHERE rid = ? AND count > 0 ORDER BY sid");
  q.bind(1, rid);
  std::vector<MetricSummary> out;
  while (q.step("reading metrics")) {
    MetricSummary s;
    s.node = q.text(0);
    s.name = q.text(1);
    s.count = q.integer(2);
    s.lower_is_better = lower_is_better(s.name);
    out.push_back(std::move(s));
  }
  return out;
}

void RunStore::for_each_point(const std::string& id, const std::string& node, const std::string& name,
                              const std::function<void(const StoredMetric&)>& each) {
  std::int64_t rid = run_rowid(*db_, id);
  // The series' own rowid range: the points of other series and runs written meanwhile are skipped.
  Statement q(*db_,
              "SELECT p.time, p.step, p.epoch, p.value FROM series AS s CROSS JOIN points AS p ON p.rowid BETWEEN "
              "s.first_row AND s.last_row AND p.sid = s.sid WHERE s.rid = ? AND s.name = ? AND s.node = ? ORDER BY "
              "p.rowid");
  q.bind(1, rid).bind(2, name).bind(3, node);
  StoredMetric m;
  m.node = node;
  m.name = name;
  while (q.step("reading metrics")) {
    m.time = q.real(0);
    m.step = q.integer(1);
    m.epoch = q.integer(2);
    m.value = q.real(3);
    each(m);
  }
}

std::optional<MetricSummary> RunStore::headline(const std::string& id) {
  std::int64_t rid = run_rowid(*db_, id);
  for (const char* name : {"val/accuracy", "test/accuracy", "val/f1", "train/accuracy", "val/loss", "train/loss"}) {
    bool lower = lower_is_better(name);
    std::string sql = std::string(kSummaryColumns) + "WHERE rid = ? AND name = ? AND count > 0 AND " +
                      (lower ? "low" : "high") + " IS NOT NULL ORDER BY " + (lower ? "low ASC" : "high DESC") +
                      " LIMIT 1";
    Statement q(*db_, sql.c_str());
    q.bind(1, rid).bind(2, std::string(name));
    if (q.step("reading metrics")) return read_summary(q);
  }
  return std::nullopt;
}

std::vector<StoredCheckpoint> RunStore::checkpoints(const std::string& id) {
  Statement q(*db_,
              "SELECT time, node, path, step, metrics, best FROM checkpoints WHERE rid = (SELECT rid FROM runs WHERE "
              "id = ?) ORDER BY time");
  q.bind(1, id);
  std::vector<StoredCheckpoint> out;
  while (q.step("reading checkpoints"))
    out.push_back({q.real(0), q.text(1), q.text(2), q.integer(3), q.text(4), q.integer(5) != 0});
  return out;
}

std::vector<StoredLog> RunStore::logs(const std::string& id) {
  Statement q(*db_,
              "SELECT time, node, level, message FROM logs WHERE rid = (SELECT rid FROM runs WHERE id = ?) ORDER BY "
              "rowid");
  q.bind(1, id);
  std::vector<StoredLog> out;
  while (q.step("reading logs")) out.push_back({q.real(0), q.text(1), q.text(2), q.text(3)});
  return out;
}

void RunStore::for_each_metric(const std::string& id, const std::string& node,
                               const std::function<void(const StoredMetric&)>& each) {
  std::int64_t rid = run_rowid(*db_, id);
  // The run's rowid range, in order; rows of other runs written meanwhile are skipped.
  Statement q(*db_,
              "SELECT p.time, s.node, s.name, p.step, p.epoch, p.value FROM points AS p CROSS JOIN series AS s ON "
              "s.sid = p.sid WHERE p.rowid BETWEEN (SELECT min(first_row) FROM series WHERE rid = ?1) AND (SELECT "
              "max(last_row) FROM series WHERE rid = ?1) AND s.rid = ?1 AND (?2 = '' OR s.node = ?2) ORDER BY "
              "p.rowid");
  q.bind(1, rid).bind(2, node);
  StoredMetric m;
  while (q.step("reading metrics")) {
    m.time = q.real(0);
    m.node = q.text(1);
    m.name = q.text(2);
    m.step = q.integer(3);
    m.epoch = q.integer(4);
    m.value = q.real(5);
    each(m);
  }
}

void RunStore::remove(const std::string& id) {
  StoredRun r = run(id);  // throws with the nearest ids
  if (r.status == "running")
    throw StoreError("run " + id + " is still running (pid on " + r.host +
                     "); stop it first (Ctrl-C or SIGTERM), then remove it");
  std::int64_t rid = run_rowid(*db_, id);
  db_->exec("BEGIN IMMEDIATE", "removing run " + id);
  try {
    Statement points(*db_,
                     "DELETE FROM points WHERE rowid BETWEEN (SELECT min(first_row) FROM series WHERE rid = ?1) AND "
                     "(SELECT max(last_row) FROM series WHERE rid = ?1) AND sid IN (SELECT sid FROM series WHERE rid "
                     "= ?1)");
    points.bind(1, rid).run("removing run " + id);
    for (const char* table : {"series", "logs", "events", "checkpoints", "nodes", "hyperparameters", "runs"}) {
      std::string sql = std::string("DELETE FROM ") + table + " WHERE rid = ?";
      Statement del(*db_, sql.c_str());
      del.bind(1, rid).run("removing run " + id);
    }
    db_->exec("COMMIT", "removing run " + id);
  } catch (...) {
    sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

// ---- what a run records -----------------------------------------------------------------------
namespace {
void flatten(const std::string& prefix, const Value& value, std::vector<std::pair<std::string, std::string>>& out) {
  if (value.type() == ValueType::table) {
    for (const auto& entry : value.as_table()) flatten(prefix + "." + entry.key, entry.value, out);
    return;
  }
  out.emplace_back(prefix, value.to_string());
}
}  // namespace

RunRecord record_of(const Plan& plan) {
  RunRecord r;
  r.id = plan.run.id;
  r.run_dir = plan.run.dir;
  r.name = plan.decl.name;
  r.pipeline_path = plan.decl.file.empty() ? std::string() : fs::absolute(plan.decl.file).lexically_normal().string();
  r.pipeline_text = plan.decl.expanded_toml;
  r.start_time = now_s();
  r.threads = static_cast<int>(plan.decl.threads);
  r.hyperparameters.emplace_back("pipeline.queue_capacity", std::to_string(plan.decl.queue_capacity));
  r.hyperparameters.emplace_back("pipeline.threads", std::to_string(plan.decl.threads));
  for (const auto& node : plan.decl.nodes) {
    r.hyperparameters.emplace_back(node.name + ".plugin", Value(node.plugin).to_string());
    for (const auto& entry : node.params) flatten(node.name + "." + entry.key, entry.value, r.hyperparameters);
  }
  // A path inside the run's own directory is the same setting in every run.
  for (auto& entry : r.hyperparameters) entry.second = replace_all(entry.second, plan.run.dir, "${RUN_DIR}");
  for (const auto& node : plan.nodes) {
    r.nodes.push_back({node.name, node.type->name, node.type->family, node.type->library, node.type->version});
  }
  return r;
}

// ---- the recorder -----------------------------------------------------------------------------
class RunRecorder::Writer {
 public:
  Writer(std::string path, StoreErrorPolicy policy, std::function<void(const std::string&)> on_error)
      : path_(std::move(path)), policy_(policy), on_error_(std::move(on_error)) {}

  ~Writer() { stop(); }

  void begin(const RunRecord& r) {
    {
      // Runs left running by a process that is gone: found on every open.
      RunStore store(path_);
    }
    db_ = open_db(path_);
    // --run-dir names the run after its folder, which a later run may reuse: the store keeps
    // each run apart with a numbered id.
    id_ = r.id;
    for (int n = 2; run_rowid(*db_, id_) >= 0; ++n) id_ = r.id + "-" + std::to_string(n);
    db_->exec("BEGIN IMMEDIATE", "recording run " + r.id);
    try {
      Statement run(*db_,
                    "INSERT INTO runs(id, name, pipeline_path, run_dir, pipeline_text, status, start_time, heartbeat, "
                    "host, pid, process, version, threads, resumed_from) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, "
                    "?, ?, ?, ?, ?)");
      run.bind(1, id_)
          .bind(2, r.name)
          .bind(3, r.pipeline_path)
          .bind(4, r.run_dir)
          .bind(5, r.pipeline_text)
          .bind(6, r.start_time)
          .bind(7, r.start_time)
          .bind(8, host_name())
          .bind(9, static_cast<std::int64_t>(getpid()))
          .bind(10, process_identity(static_cast<long>(getpid())))
          .bind(11, std::string(TRIBUTARY_VERSION_STRING))
          .bind(12, r.threads)
          .bind(13, r.resumed_from)
          .run("recording run " + r.id);
      rid_ = sqlite3_last_insert_rowid(db_->handle);
      Statement node(*db_, "INSERT INTO nodes(rid, name, type, family, library, version) VALUES (?, ?, ?, ?, ?, ?)");
      for (const auto& n : r.nodes) {
        node.bind(1, rid_).bind(2, n.name).bind(3, n.type).bind(4, n.family).bind(5, n.library).bind(6, n.version);
        node.run("recording run " + r.id);
      }
      Statement param(*db_, "INSERT OR REPLACE INTO hyperparameters(rid, key, value) VALUES (?, ?, ?)");
      for (const auto& [key, value] : r.hyperparameters)
        param.bind(1, rid_).bind(2, key).bind(3, value).run("recording run " + r.id);
      db_->exec("COMMIT", "recording run " + r.id);
    } catch (...) {
      sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    insert_series_ = std::make_unique<Statement>(*db_, "INSERT INTO series(rid, node, name) VALUES (?, ?, ?)");
    update_series_ = std::make_unique<Statement>(
        *db_,
        "UPDATE series SET count = ?, first_row = ?, last_row = ?, last = ?, last_step = ?, low = ?, low_step = ?, "
        "high = ?, high_step = ? WHERE sid = ?");
    insert_point_ =
        std::make_unique<Statement>(*db_, "INSERT INTO points(sid, time, step, epoch, value) VALUES (?, ?, ?, ?, ?)");
    // Many rows a statement: SQLite opens its cursors and starts its program once for them all.
    std::string many = "INSERT INTO points(sid, time, step, epoch, value) VALUES (?, ?, ?, ?, ?)";
    for (std::size_t i = 1; i < kRowsPerInsert; ++i) many += ", (?, ?, ?, ?, ?)";
    insert_points_ = std::make_unique<Statement>(*db_, many.c_str());
    insert_log_ =
        std::make_unique<Statement>(*db_, "INSERT INTO logs(rid, time, node, level, message) VALUES (?, ?, ?, ?, ?)");
    insert_event_ =
        std::make_unique<Statement>(*db_, "INSERT INTO events(rid, time, kind, node, text) VALUES (?, ?, ?, ?, ?)");
    insert_checkpoint_ = std::make_unique<Statement>(
        *db_, "INSERT INTO checkpoints(rid, time, node, path, step, metrics, best) VALUES (?, ?, ?, ?, ?, ?, ?)");
    drop_checkpoint_ = std::make_unique<Statement>(*db_, "DELETE FROM checkpoints WHERE rid = ? AND path = ?");
    clear_best_ = std::make_unique<Statement>(*db_, "UPDATE checkpoints SET best = 0 WHERE rid = ? AND node = ?");
    heartbeat_ = std::make_unique<Statement>(
        *db_, "UPDATE runs SET heartbeat = ?, points = points + ?, dropped = ? WHERE rid = ?");
    thread_ = std::thread([this] { loop(); });
  }

  // On the pipeline's threads: each point is queued as its series' number and four numbers. A
  // series' node and metric name are copied once, when the run first shows it.
  void add_metrics(const std::vector<MetricPoint>& points) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || stopping_ || metrics_.size() >= kMaxQueued) {
      dropped_.fetch_add(points.size(), std::memory_order_relaxed);
      return;
    }
    for (const MetricPoint& p : points) {
      std::uint32_t series = 0;
      if (auto at = series_.find(SeriesKey{p.node, p.name}); at != series_.end()) {
        series = at->second;
      } else {
        series = static_cast<std::uint32_t>(names_.size());
        names_.push_back({p.node, p.name});
        // The key views the strings the list keeps (a deque's elements stay where they are).
        series_.emplace(SeriesKey{names_.back().node, names_.back().name}, series);
      }
      metrics_.push_back({p.time, p.value, p.step, p.epoch, series});
    }
    if (metrics_.size() >= kBatch) cv_.notify_one();
  }

  void add_log(const LogRecord& record) {
    if (record.level < LogLevel::warn) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || logs_.size() >= kMaxQueued) return;
    logs_.push_back(record);
  }

  void add_event(std::string kind, std::string node, std::string text) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || events_.size() >= kMaxQueued) return;
    events_.push_back({now_s(), std::move(kind), std::move(node), std::move(text)});
  }

  void add_artifact(ArtifactNote note) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || artifacts_.size() >= kMaxQueued) return;
    artifacts_.push_back(std::move(note));
  }

  void finish(const RunResult& result) {
    stop();
    if (!db_ || rid_ < 0) return;
    const char* status = result.status == RunResult::Status::finished  ? "finished"
                         : result.status == RunResult::Status::stopped ? "stopped"
                                                                       : "failed";
    std::string reason = result.status == RunResult::Status::failed    ? result.failed_node + ": " + result.error
                         : result.status == RunResult::Status::stopped ? result.stop_reason
                                                                       : std::string();
    try {
      Statement up(*db_,
                   "UPDATE runs SET status = ?, reason = ?, failed_node = ?, end_time = ?, heartbeat = ?, dropped = ? "
                   "WHERE rid = ?");
      double now = now_s();
      up.bind(1, std::string(status))
          .bind(2, reason)
          .bind(3, result.failed_node)
          .bind(4, now)
          .bind(5, now)
          .bind(6, static_cast<std::int64_t>(dropped_.load()))
          .bind(7, rid_)
          .run("writing the run's end");
    } catch (const StoreError& e) {
      report(e.what());
    }
  }

  std::uint64_t written() const noexcept { return written_.load(); }
  const std::string& id() const noexcept { return id_; }
  std::uint64_t dropped() const noexcept { return dropped_.load(); }
  const std::string& error() const noexcept { return error_; }

 private:
  struct Event {
    double time;
    std::string kind, node, text;
  };
  // A queued point: its series is the recorder's number of the run's (node, name).
  struct Point {
    double time;
    double value;
    std::int64_t step;
    std::int64_t epoch;
    std::uint32_t series;
  };
  struct SeriesName {
    std::string node, name;
  };
  // What the store's row of a series keeps, as committed so far and in the batch being written.
  struct SeriesStats {
    std::int64_t count = 0, first_row = -1, last_row = -1, last_step = -1, low_step = -1, high_step = -1;
    double last = 0.0, low = 0.0, high = 0.0;
    bool ranked = false;  // a value that is a number was seen (not a NaN, which SQLite keeps as NULL)
    bool dirty = false;
    void add(const Point& p, std::int64_t row) {
      if (count++ == 0) first_row = row;
      last_row = row;
      last = p.value;
      last_step = p.step;
      if (!std::isnan(p.value)) {
        // The first of equal values counts, as a reader going through them in order finds it.
        if (!ranked || p.value < low) {
          low = p.value;
          low_step = p.step;
        }
        if (!ranked || p.value > high) {
          high = p.value;
          high_step = p.step;
        }
        ranked = true;
      }
      dirty = true;
    }
  };
  struct SeriesKey {
    std::string_view node, name;
    bool operator==(const SeriesKey& o) const noexcept { return node == o.node && name == o.name; }
  };
  struct SeriesHash {
    std::size_t operator()(const SeriesKey& k) const noexcept {
      std::size_t h = std::hash<std::string_view>()(k.name);
      return h ^ (std::hash<std::string_view>()(k.node) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
  };
  // A batch is committed when this many points wait, or every kInterval; a transaction holds at
  // most this many (about 450 KiB of write-ahead log).
  static constexpr std::size_t kBatch = 10000;
  // Points a statement inserts at once (5 parameters each, well below SQLite's limit of 32766).
  static constexpr std::size_t kRowsPerInsert = 64;
  static constexpr std::chrono::milliseconds kInterval{250};
  // Past this many queued points (a disk far too slow), new points are dropped and counted.
  static constexpr std::size_t kMaxQueued = 4'000'000;

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void loop() {
    std::vector<Point> metrics;
    std::vector<SeriesName> fresh;  // series the store does not have yet, in the recorder's order
    std::vector<LogRecord> logs;
    std::vector<Event> events;
    std::vector<ArtifactNote> artifacts;
    for (;;) {
      bool last = false;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, kInterval, [&] { return stopping_ || metrics_.size() >= kBatch; });
        last = stopping_;
        if (failed_) {
          if (last) return;
          continue;
        }
        // What a failed commit left is kept in front, in its order.
        for (std::size_t i = sids_.size() + fresh.size(); i < names_.size(); ++i) fresh.push_back(names_[i]);
        if (metrics.empty()) {
          metrics.swap(metrics_);
        } else {
          metrics.insert(metrics.end(), metrics_.begin(), metrics_.end());
          metrics_.clear();
        }
        logs.insert(logs.end(), logs_.begin(), logs_.end());
        logs_.clear();
        events.insert(events.end(), std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
        events_.clear();
        artifacts.insert(artifacts.end(), std::make_move_iterator(artifacts_.begin()),
                         std::make_move_iterator(artifacts_.end()));
        artifacts_.clear();
      }
      // A transaction holds at most kBatch points: a long backlog goes in as several, each
      // keeping the store's lock (and its write-ahead log's growth) short.
      auto commit_all = [&] {
        std::size_t done = 0;
        bool committed = true;
        do {
          std::size_t n = std::min(kBatch, metrics.size() - done);
          committed = commit(fresh, metrics.data() + done, n, logs, events, artifacts);
          if (!committed) break;
          written_.fetch_add(n);
          done += n;
          fresh.clear();
          logs.clear();
          events.clear();
          artifacts.clear();
        } while (done < metrics.size());
        metrics.erase(metrics.begin(), metrics.begin() + static_cast<std::ptrdiff_t>(done));
        if (failed_) {
          dropped_.fetch_add(metrics.size());
          metrics.clear();
        }
        return committed;
      };
      bool committed = commit_all();
      if (last) {
        // A busy store at the very end: a few more tries, then what is left is counted as dropped.
        for (int attempt = 0; !committed && !failed_ && attempt < 3; ++attempt) committed = commit_all();
        dropped_.fetch_add(metrics.size());
        return;
      }
    }
  }

  // One transaction; false when it was rolled back (and then either retried later, or the store failed).
  bool commit(const std::vector<SeriesName>& fresh, const Point* metrics, std::size_t count,
              const std::vector<LogRecord>& logs, const std::vector<Event>& events,
              const std::vector<ArtifactNote>& artifacts) {
    std::size_t known = sids_.size();
    std::vector<SeriesStats> before = stats_;  // what a rollback puts back
    try {
      db_->exec("BEGIN IMMEDIATE", "starting a batch");
      for (const auto& f : fresh) {
        insert_series_->bind(1, rid_).bind_static(2, f.node).bind_static(3, f.name).run("writing metric series");
        sids_.push_back(sqlite3_last_insert_rowid(db_->handle));
        stats_.emplace_back();
      }
      // Every parameter is bound again for each row: no clearing between them. The rows of one
      // statement get consecutive rowids (this connection holds the store's write lock).
      std::size_t at = 0;
      for (; at + kRowsPerInsert <= count; at += kRowsPerInsert) {
        int i = 1;
        for (std::size_t k = at; k < at + kRowsPerInsert; ++k, i += 5) {
          const Point& p = metrics[k];
          insert_points_->bind(i, sids_[p.series]).bind(i + 1, p.time).bind(i + 2, p.step);
          insert_points_->bind(i + 3, p.epoch).bind(i + 4, p.value);
        }
        insert_points_->step_once("writing metric points");
        std::int64_t row = sqlite3_last_insert_rowid(db_->handle) - static_cast<std::int64_t>(kRowsPerInsert) + 1;
        for (std::size_t k = at; k < at + kRowsPerInsert; ++k) stats_[metrics[k].series].add(metrics[k], row++);
      }
      for (; at < count; ++at) {
        const Point& p = metrics[at];
        insert_point_->bind(1, sids_[p.series]).bind(2, p.time).bind(3, p.step).bind(4, p.epoch).bind(5, p.value);
        insert_point_->step_once("writing metric points");
        stats_[p.series].add(p, sqlite3_last_insert_rowid(db_->handle));
      }
      for (std::size_t k = 0; k < stats_.size(); ++k) {
        SeriesStats& st = stats_[k];
        if (!st.dirty) continue;
        update_series_->bind(1, st.count).bind(2, st.first_row).bind(3, st.last_row).bind(4, st.last);
        update_series_->bind(5, st.last_step);
        if (st.ranked) {
          update_series_->bind(6, st.low).bind(7, st.low_step).bind(8, st.high).bind(9, st.high_step);
        } else {
          update_series_->bind_null(6).bind_null(7).bind_null(8).bind_null(9);
        }
        update_series_->bind(10, sids_[k]).step_once("writing metric series");
      }
      for (const auto& l : logs) {
        insert_log_->bind(1, rid_).bind(2, l.time).bind_static(3, l.node).bind(4, std::string(to_string(l.level)));
        insert_log_->bind_static(5, l.message).run("writing log lines");
      }
      for (const auto& e : events) {
        insert_event_->bind(1, rid_).bind(2, e.time).bind_static(3, e.kind).bind_static(4, e.node);
        insert_event_->bind_static(5, e.text).run("writing control events");
      }
      for (const auto& a : artifacts) {
        if (a.kind != "checkpoint") continue;
        // The same file written again (an end-of-run checkpoint at the step of the last one) replaces it.
        drop_checkpoint_->bind(1, rid_).bind(2, a.path).run("writing checkpoints");
        // One best per node: a new best takes the mark from the earlier ones.
        if (a.best) clear_best_->bind(1, rid_).bind(2, a.node).run("writing checkpoints");
        nlohmann::json metrics_json = nlohmann::json::object();
        for (const auto& [name, value] : a.metrics) metrics_json[name] = value;
        insert_checkpoint_->bind(1, rid_).bind(2, a.time).bind(3, a.node).bind(4, a.path).bind(5, a.step);
        insert_checkpoint_->bind(6, metrics_json.dump()).bind(7, static_cast<std::int64_t>(a.best ? 1 : 0));
        insert_checkpoint_->run("writing checkpoints");
      }
      heartbeat_->bind(1, now_s())
          .bind(2, static_cast<std::int64_t>(count))
          .bind(3, static_cast<std::int64_t>(dropped_.load()))
          .bind(4, rid_)
          .run("writing the heartbeat");
      db_->exec("COMMIT", "committing a batch");
      for (auto& st : stats_) st.dirty = false;
      return true;
    } catch (const StoreError& e) {
      int primary = db_->code() & 0xff;
      sids_.resize(known);  // the series rows went with the rollback
      stats_ = std::move(before);
      update_series_->reset();
      insert_series_->reset();
      insert_point_->reset();
      insert_points_->reset();
      insert_log_->reset();
      insert_event_->reset();
      insert_checkpoint_->reset();
      clear_best_->reset();
      drop_checkpoint_->reset();
      heartbeat_->reset();
      sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
      if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return false;  // another writer: the next round retries
      {
        std::lock_guard<std::mutex> lock(mutex_);
        failed_ = true;
        dropped_.fetch_add(metrics_.size());  // the caller counts what it holds
        metrics_.clear();
      }
      report(std::string(e.what()) + "; what was committed before is kept" +
             (policy_ == StoreErrorPolicy::keep_running ? "; the run goes on without recording"
                                                        : "; the run stops (--store-errors stop)"));
      return false;
    }
  }

  void report(const std::string& message) {
    if (!error_.empty()) return;
    error_ = message;
    if (on_error_) on_error_(message);
  }

  std::string path_;
  StoreErrorPolicy policy_;
  std::function<void(const std::string&)> on_error_;
  std::unique_ptr<Db> db_;
  std::int64_t rid_ = -1;
  std::string id_;
  std::unique_ptr<Statement> insert_series_, update_series_, insert_point_, insert_points_, insert_log_, insert_event_,
      insert_checkpoint_, drop_checkpoint_, clear_best_, heartbeat_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool failed_ = false;
  std::vector<Point> metrics_;
  // The run's series in the order they first appeared, and their numbers (with mutex_ held).
  std::deque<SeriesName> names_;
  std::unordered_map<SeriesKey, std::uint32_t, SeriesHash> series_;
  // The store's ids of the first series (the writer's thread only).
  std::vector<std::int64_t> sids_;
  std::vector<SeriesStats> stats_;
  std::vector<LogRecord> logs_;
  std::vector<Event> events_;
  std::vector<ArtifactNote> artifacts_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::string error_;
};

RunRecorder::RunRecorder(std::string path, StoreErrorPolicy policy, std::function<void(const std::string&)> on_error)
    : writer_(std::make_unique<Writer>(std::move(path), policy, std::move(on_error))) {}
RunRecorder::~RunRecorder() = default;
void RunRecorder::begin(const RunRecord& record) { writer_->begin(record); }
void RunRecorder::finish(const RunResult& result) { writer_->finish(result); }
void RunRecorder::on_metrics(const std::vector<MetricPoint>& points) { writer_->add_metrics(points); }
void RunRecorder::on_log(const LogRecord& record) { writer_->add_log(record); }
void RunRecorder::on_control(const Packet& packet) {
  if (auto m = control_request(packet)) {
    std::string text = std::string(to_string(m->verb)) + (m->target.empty() ? "" : " " + m->target) +
                       (m->key.empty() ? "" : " " + m->key + "=" + m->value.to_string()) + " from " + m->sender;
    writer_->add_event("request", m->sender, "#" + std::to_string(m->id) + " " + text);
  } else if (auto r = control_reply(packet)) {
    writer_->add_event("reply", r->node,
                       "#" + std::to_string(r->id) + (r->accepted ? " accepted" : " refused") +
                           (r->step >= 0 ? " at step " + std::to_string(r->step) : "") +
                           (r->text.empty() ? "" : ": " + r->text));
  } else if (auto s = run_state(packet)) {
    writer_->add_event("state", s->node, s->state + (s->reason.empty() ? "" : ": " + s->reason));
  } else if (auto a = artifact_note(packet)) {
    writer_->add_artifact(std::move(*a));
  }
}
std::uint64_t RunRecorder::points_written() const noexcept { return writer_->written(); }
std::uint64_t RunRecorder::points_dropped() const noexcept { return writer_->dropped(); }
const std::string& RunRecorder::error() const noexcept { return writer_->error(); }
const std::string& RunRecorder::id() const noexcept { return writer_->id(); }

}  // namespace tributary::core
