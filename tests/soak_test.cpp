// A long headless run of tests/data/soak.toml through the CLI, as people run pipelines for days: a
// paced live tone -> log-mel -> windows -> an online conv autoencoder -> metrics (CSV file and the
// dashboard), checkpoints every 5 s, the run store on, a WebSocket viewer on the dashboard the
// whole time and a request to its API every second. The test samples the process's resident
// memory, file descriptors and threads every second, stops it with SIGINT after
// TRIBUTARY_SOAK_SECONDS (default 150), and checks that it stopped promptly and cleanly, that
// memory, descriptors and threads held steady after the warm-up, and that the checkpoints, the
// metrics file and the run store show the whole run.
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "process.hpp"
#include "testing/real_parts.hpp"

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using tributary::sources::testing::read_text;
using tributary::sources::testing::ScratchDir;
using tributary::testing::ProcessOptions;
using tributary::testing::ProcessResult;
using tributary::testing::run_process;

namespace {

const std::string kCli = TRIBUTARY_CLI;
const fs::path kPipeline = fs::path(TRIBUTARY_SOURCE_DIR) / "tests" / "data" / "soak.toml";
constexpr int kKeep = 2;  // ckpt.keep in soak.toml

// How long to run: TRIBUTARY_SOAK_SECONDS, else 150 s. A per-step leak shows at the default length
// (see the memory bound below); 20-30 s is enough to try the mechanics while changing things.
int soak_seconds() {
  const char* text = std::getenv("TRIBUTARY_SOAK_SECONDS");
  if (text == nullptr || *text == '\0') return 150;
  char* end = nullptr;
  const long seconds = std::strtol(text, &end, 10);
  if (*end != '\0' || seconds < 30 || seconds > 86400) {
    FAIL("TRIBUTARY_SOAK_SECONDS='" << text << "' is not a whole number of seconds from 30 to 86400; unset it for 150");
  }
  return static_cast<int>(seconds);
}

struct Sample {
  double t = 0.0;            // seconds since the start
  double wall = 0.0;         // seconds since the Unix epoch, as the metrics file's `time`
  std::int64_t rss_kb = 0;   // VmRSS
  std::int64_t fds = 0;      // entries of /proc/PID/fd
  std::int64_t threads = 0;  // entries of /proc/PID/task
  std::int64_t cpu_ticks = 0;
};

std::int64_t entries(const fs::path& dir) {
  std::error_code ec;
  std::int64_t n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

std::optional<Sample> sample(pid_t pid) {
  const fs::path proc = fs::path("/proc") / std::to_string(pid);
  Sample s;
  std::istringstream status(read_text((proc / "status").string()));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stoll(line.substr(6));
  }
  // utime and stime are fields 14 and 15; the command name (field 2) is in parentheses.
  const std::string stat = read_text((proc / "stat").string());
  const auto close = stat.rfind(')');
  if (s.rss_kb == 0 || close == std::string::npos) return std::nullopt;  // exited
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  if (f.size() < 13) return std::nullopt;
  s.cpu_ticks = std::stoll(f[11]) + std::stoll(f[12]);
  s.fds = entries(proc / "fd");
  s.threads = entries(proc / "task");
  return s;
}

tcp::endpoint local(unsigned short port) { return tcp::endpoint(net::ip::make_address("127.0.0.1"), port); }

void set_timeout(tcp::socket& socket, int seconds) {
  timeval timeout{seconds, 0};  // a read that gets nothing fails instead of hanging the test
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

// GET http://127.0.0.1:PORT/TARGET on a connection of its own; the status, 0 when it failed.
unsigned get(unsigned short port, const std::string& target) {
  try {
    net::io_context io;
    tcp::socket socket(io);
    socket.open(tcp::v4());
    set_timeout(socket, 10);
    socket.connect(local(port));
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res.result_int();
  } catch (const std::exception&) {
    return 0;
  }
}

// A dashboard page left open: reads the live WebSocket until the server closes it.
class Viewer {
 public:
  explicit Viewer(unsigned short port) : start_(Clock::now()) {
    thread_ = std::thread([this, port] {
      try {
        net::io_context io;
        websocket::stream<tcp::socket> ws(io);
        ws.next_layer().open(tcp::v4());
        set_timeout(ws.next_layer(), 10);
        ws.next_layer().connect(local(port));
        ws.handshake("127.0.0.1:" + std::to_string(port), "/api/live");
        for (;;) {
          beast::flat_buffer buffer;
          ws.read(buffer);
          messages_ += 1;
          last_message_s_ = std::chrono::duration<double>(Clock::now() - start_).count();
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex_);
        ended_ = e.what();
      }
    });
  }
  ~Viewer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::int64_t messages() const { return messages_; }
  double last_message_s() const { return last_message_s_; }  // since the viewer started
  std::string ended() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ended_;
  }

 private:
  Clock::time_point start_;
  std::atomic<std::int64_t> messages_{0};
  std::atomic<double> last_message_s_{0.0};
  std::mutex mutex_;
  std::string ended_;
  std::thread thread_;
};

std::string series_text(const std::vector<Sample>& samples, std::int64_t Sample::*field) {
  std::ostringstream out;
  for (std::size_t i = 0; i < samples.size(); ++i) out << (i ? " " : "") << samples[i].*field;
  return out.str();
}

template <typename Pred>
std::int64_t max_of(const std::vector<Sample>& samples, std::int64_t Sample::*field, Pred in) {
  std::int64_t m = 0;
  for (const auto& s : samples) {
    if (in(s)) m = std::max(m, s.*field);
  }
  return m;
}

}  // namespace

TEST_CASE("a live pipeline runs for minutes with steady memory, descriptors and threads, and stops cleanly", "[soak]") {
  const int seconds = soak_seconds();
  const double third = seconds / 3.0;
  ScratchDir dir;
  const fs::path run = dir.path() / "run";
  const fs::path store = dir.path() / "store.db";
  const fs::path csv = run / "metrics.csv";

  std::vector<Sample> samples;
  std::optional<Viewer> viewer;
  unsigned short port = 0;
  std::int64_t requests = 0;
  std::vector<std::string> failed_requests;
  bool loss_seen = false;
  const std::vector<std::string> targets{"/api/run", "/api/series/train:train/loss?points=400", "/api/runs"};
  const auto start = Clock::now();
  std::optional<Clock::time_point> signalled;
  double next_sample = 1.0;

  ProcessOptions options;
  options.timeout = std::chrono::seconds(seconds + 90);
  options.while_running = [&](pid_t pid, const ProcessResult& so_far) {
    if (signalled) return;
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    if (port == 0) {
      std::smatch m;
      static const std::regex url("dashboard at http://127\\.0\\.0\\.1:([0-9]+)/");
      if (std::regex_search(so_far.err, m, url)) {
        port = static_cast<unsigned short>(std::stoi(m[1]));
        viewer.emplace(port);
      }
    }
    if (t < next_sample) return;
    next_sample += 1.0;
    if (auto s = sample(pid)) {
      s->t = t;
      s->wall = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      samples.push_back(*s);
    }
    // One request a second, after the sample, so its connection is closed by the next one.
    if (port != 0) {
      const std::string& target = targets[static_cast<std::size_t>(requests++) % targets.size()];
      const unsigned status = get(port, target);
      // The series is there from the trainer's first report on: a 404 before it is no failure, nor
      // in the second after its first row reached the metrics file (the dashboard may be behind).
      const bool early = status == 404 && target.rfind("/api/series/", 0) == 0 && !loss_seen;
      if (!loss_seen) loss_seen = read_text(csv.string()).find(",train,train/loss,") != std::string::npos;
      if (status != 200 && !early) {
        failed_requests.push_back("GET " + target + " at " + std::to_string(t) +
                                  " s: " + (status == 0 ? "no answer" : std::to_string(status)));
      }
    }
    if (t >= seconds) {
      ::kill(pid, SIGINT);
      signalled = Clock::now();
    }
  };
  const auto r = run_process(
      {kCli, "run", kPipeline.string(), "--run-dir", run.string(), "--store", store.string(), "--progress", "lines"},
      options);
  const auto exited = Clock::now();
  if (viewer) viewer->join();  // the server closed the connection when the run ended

  const std::string rss = series_text(samples, &Sample::rss_kb);
  const std::string fds = series_text(samples, &Sample::fds);
  const std::string threads = series_text(samples, &Sample::threads);
  INFO("VmRSS (kB), one a second: " << rss);
  INFO("file descriptors: " << fds);
  INFO("threads: " << threads);
  INFO(r.all());

  // Ctrl-C stops gracefully: exit 0, promptly, with a last checkpoint (checked below). Measured
  // here: 0.06-0.17 s from SIGINT to exit; 5 s leaves room for a loaded machine's slow fsyncs.
  REQUIRE(signalled.has_value());
  const double stop_s = std::chrono::duration<double>(exited - *signalled).count();
  INFO("exited " << stop_s << " s after SIGINT");
  REQUIRE(r.exit_code == 0);
  CHECK(stop_s < 5.0);
  CHECK(r.out.find("SIGINT received") != std::string::npos);

  REQUIRE(samples.size() >= static_cast<std::size_t>(seconds) * 2 / 3);
  const double cpu_s = static_cast<double>(samples.back().cpu_ticks - samples.front().cpu_ticks) /
                       static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double cpu_share = cpu_s / (samples.back().t - samples.front().t);
  WARN("soak: " << seconds << " s, CPU " << cpu_share << " of a core, stopped " << stop_s << " s after SIGINT\n"
                << "VmRSS (kB): " << rss << "\nfile descriptors: " << fds << "\nthreads: " << threads);

  auto warm = [&](const Sample& s) { return s.t < third; };
  auto middle = [&](const Sample& s) { return s.t >= third && s.t < 2 * third; };
  auto last = [&](const Sample& s) { return s.t >= 2 * third; };
  auto after_warm_up = [&](const Sample& s) { return !warm(s); };

  // Memory holds steady after the warm-up. In the warm-up the dashboard's series reach their 16
  // points in memory and its histograms their 300 snapshots (by 25 s), and the run store's SQLite
  // page cache (2 MB) fills as the database grows, by about 85 s (in the middle third; with
  // --no-store the RSS is flat from 30 s). Measured here: the samples scatter by +-400 kB; the last
  // third's largest RSS against the middle third's was -80 to +300 kB in four 150 s runs, and a
  // 300 s run stayed at 192.4 MB +-0.4 MB from 85 s to the end. A leak of one window per step, 32 x
  // 40 f32 = 5 kB at 12.5 steps a second, grows 64 kB a second: 3.2 MB between the maxima of the two
  // thirds (50 s apart at 150 s; a 5 kB allocation every 80 ms preloaded into the run measured
  // 3.5 MB). 1.5 MB is above the scatter and under half of that leak; a run shorter than about 70 s
  // catches only larger ones.
  const std::int64_t growth_kb = max_of(samples, &Sample::rss_kb, last) - max_of(samples, &Sample::rss_kb, middle);
  INFO("VmRSS: largest in the middle third " << max_of(samples, &Sample::rss_kb, middle) << " kB, in the last third "
                                             << max_of(samples, &Sample::rss_kb, last) << " kB: " << growth_kb
                                             << " kB more");
  CHECK(growth_kb <= 1536);

  // No descriptor or thread is left behind: after the warm-up the counts stay as they were, but
  // for a connection of the dashboard's that is still closing (1-2).
  auto first_after = std::find_if(samples.begin(), samples.end(), after_warm_up);
  REQUIRE(first_after != samples.end());
  CHECK(max_of(samples, &Sample::fds, after_warm_up) <= first_after->fds + 2);
  CHECK(max_of(samples, &Sample::threads, after_warm_up) == first_after->threads);

  // The dashboard served the whole run: the viewer got messages until the stop, every request an
  // answer.
  REQUIRE(viewer.has_value());
  INFO("viewer: " << viewer->messages() << " messages, the last at " << viewer->last_message_s() << " s, ended by "
                  << viewer->ended());
  CHECK(viewer->last_message_s() >= 2 * third);
  CHECK(requests >= seconds / 2);
  for (const auto& f : failed_requests) FAIL_CHECK(f);

  // The checkpoints: at most `keep` of the latest and the best (the latest may be it), the last one
  // written at the stop, none half-written.
  const Json manifest = Json::parse(read_text((run / "checkpoints" / "checkpoints.json").string()));
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints")) {
    if (entry.path().filename() != "checkpoints.json") files.push_back(entry.path().filename().string());
  }
  INFO("checkpoints: " << manifest.dump(2));
  CHECK(files.size() <= kKeep + 1);
  CHECK(files.size() == manifest["checkpoints"].size());
  for (const auto& f : files) CHECK(f.rfind("step-", 0) == 0);  // no .tmp left
  REQUIRE(!manifest["checkpoints"].empty());
  const Json& newest = manifest["checkpoints"].back();
  CHECK(newest["reason"] == "end");
  CHECK(manifest["latest"] == newest["file"]);

  // The metrics file grew through the whole run: train/loss points in every third, and as many
  // in the last as the pace gives (not fewer than half of the middle third's).
  std::int64_t rows[3] = {0, 0, 0};
  {
    const double t0 = samples.front().wall - samples.front().t;  // the start, on the metrics file's clock
    std::istringstream in(read_text(csv.string()));
    std::string line;
    std::getline(in, line);  // time,node,name,step,epoch,value
    for (; std::getline(in, line);) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
      if (f.size() != 6 || f[2] != "train/loss") continue;
      const double t = std::stod(f[0]) - t0;
      rows[std::clamp(static_cast<int>(t / third), 0, 2)] += 1;
    }
  }
  INFO("train/loss points by third: " << rows[0] << " " << rows[1] << " " << rows[2]);
  CHECK(rows[0] > 0);
  CHECK(rows[1] > 0);
  CHECK(rows[2] > 0);
  CHECK(2 * rows[2] >= rows[1]);

  // The run store recorded the run as stopped by the SIGINT, with the checkpoints the run wrote
  // (the pruned ones marked), as `tributary runs` shows it.
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("recorded as run (\\S+) in")));
  const std::string id = m[1];
  const auto list = run_process({kCli, "runs", "list", "--store", store.string(), "--status", "stopped"});
  INFO(list.all());
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find(id + " ") != std::string::npos);
  const auto show = run_process({kCli, "runs", "show", id, "--store", store.string()});
  INFO(show.all());
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("of pipeline 'soak': stopped (SIGINT received)") != std::string::npos);
  const std::string newest_path = newest["path"];
  const auto at = show.out.find(newest_path + "  step " + std::to_string(newest["step"].get<std::int64_t>()));
  REQUIRE(at != std::string::npos);
  const std::string newest_line = show.out.substr(at, show.out.find('\n', at) - at);
  CHECK(newest_line.find("removed since") == std::string::npos);
  CHECK(show.out.find("(removed since)") != std::string::npos);  // the keep pruned older ones
}
