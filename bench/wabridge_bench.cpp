// wabridge benchmarks: each starts the real binary on loopback with a fresh
// data dir and simulated accounts, drives it, and prints figures. Nothing is
// asserted: compare ratios measured in one run, not absolute numbers across
// runs (the machines are shared and noisy).
//
//   ingest          durable ingest from the sim at rate 0, ~500-byte events:
//                   events/s between the first and last commit (receivedAt)
//   ingest_1commit  the same with journal.max_batch = 1 (one fsync per event)
//   latency         receipt-to-confirm p50/p99 at 1,000 events/s
//   drain           a consumer draining the ingest backlog, limit=1000 + ack
//   jsonl_baseline  a JSONL queue in this process, one fdatasync per append
//   boot            a graceful restart with 1,000,000 unacked events in the
//                   journal: time to ready, the first GET, the worker's
//                   anonymous RSS
//   restart         graceful restarts (SIGHUP and binary replacement) at
//                   1,000 events/s with a polling, acking consumer: the gap
//                   between the old worker's last answer and the new one's
//                   first, the worker's drain time, failed requests, seq gaps
//
// Usage: wabridge_bench [--events N] [--boot-events N] [--only NAME]
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

// A loopback port nobody listens on right now (bind to port 0, read it, close).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("free_port");
    std::exit(1);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One bridge process on a fresh data dir; SIGTERM on destruction.
class bridge {
 public:
  /// With `own_binary`, runs a copy of wabridge kept in the bench dir, so
  /// that it can be replaced on disk (binary_path()).
  bridge(const std::string& name, const std::string& account_toml, const std::string& extra_toml,
         const std::string& log_level = "warn", bool own_binary = false) {
    dir_ = std::filesystem::temp_directory_path() /
           ("wabridge-bench-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    binary_ = WABRIDGE_BINARY;
    if (own_binary) {
      binary_ = (dir_ / "wabridge").string();
      std::filesystem::copy_file(WABRIDGE_BINARY, binary_);
    }
    port_ = free_port();
    const std::string cfg = (dir_ / "bench.toml").string();
    std::ofstream(cfg) << "[bridge]\nlisten = \"127.0.0.1:" << port_ << "\"\ndata_dir = \""
                       << (dir_ / "data").string() << "\"\n[log]\nlevel = \"" << log_level << "\"\n"
                       << extra_toml << "\n[[account]]\nname = \"main\"\nupstream = \"sim\"\n"
                       << account_toml;
    log_ = (dir_ / "bridge.log").string();
    cfg_ = cfg;
    spawn();
    if (!wait_ready(30)) {
      std::fprintf(stderr, "bridge did not become ready; log in %s\n", log_.c_str());
      ::kill(pid_, SIGKILL);
      std::exit(1);
    }
  }

  /// Starts `wabridge run` on this bridge's config and data dir (appending
  /// to its log); returns at once.
  void spawn() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<std::string> args{binary_, "run", "-c", cfg_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", WABRIDGE_BINARY);
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&actions);
  }

  /// Polls GET /health (fresh connection, 1 ms apart) until it answers 200.
  bool wait_ready(double deadline_s) const {
    const auto start = steady::now();
    while (seconds_since(start) < deadline_s) {
      httplib::Client c("127.0.0.1", port_);
      c.set_keep_alive(false);
      auto res = c.Get("/health");
      if (res && res->status == 200) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  /// SIGTERM (a graceful stop) and wait for the supervisor to exit; the
  /// data dir stays.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  ~bridge() {
    stop();
    std::filesystem::remove_all(dir_);
  }

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& binary_path() const { return binary_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log_text() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_keep_alive(true);
    c.set_tcp_nodelay(true);
    return c;
  }

  json get(const std::string& path) const {
    auto res = client().Get(path.c_str());
    if (!res || res->status != 200) return json();
    return json::parse(res->body, nullptr, false);
  }

  json account_status() const {
    auto s = get("/status");
    return s.is_object() ? s["accounts"][0] : json();
  }

  // Waits until the journal holds `n` events and the sim has them confirmed.
  bool wait_for(uint64_t n, double deadline_s) const {
    const auto start = steady::now();
    while (seconds_since(start) < deadline_s) {
      auto a = account_status();
      if (a.is_object() && a["journal"].value("lastSeq", 0ull) >= n &&
          a["upstream"].value("eventsConfirmed", 0ull) >= n)
        return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // receivedAt of the event with seq `seq` (read by a throwaway consumer).
  int64_t received_at(uint64_t seq) const {
    const std::string consumer = "probe" + std::to_string(seq);
    auto c = client();
    c.Post("/ack", json{{"up_to_seq", seq - 1}, {"consumer", consumer}}.dump(), "application/json");
    auto page = get("/messages?limit=1&consumer=" + consumer);
    return page.is_array() && !page.empty() ? page[0].value("receivedAt", int64_t{0}) : 0;
  }

 private:
  std::filesystem::path dir_;
  std::string binary_;
  std::string cfg_;
  std::string log_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

std::string sim_toml(double rate, uint64_t total) {
  return "[account.sim]\nrate = " + std::to_string(rate) + "\ntotal = " + std::to_string(total) +
         "\nbody_bytes = 500\n";
}

// Events/s between the commits of the first and the last event.
std::optional<double> ingest_rate(uint64_t events, const std::string& extra_toml,
                                  const std::string& name) {
  bridge b(name, sim_toml(0, events), extra_toml);
  if (!b.wait_for(events, 300)) return std::nullopt;
  const int64_t first = b.received_at(1);
  const int64_t last = b.received_at(events);
  if (last <= first) return std::nullopt;
  return double(events - 1) * 1000.0 / double(last - first);
}

void print(const char* name, const char* figure, double value, const char* unit) {
  std::printf("%-16s %-34s %14.1f %s\n", name, figure, value, unit);
  std::fflush(stdout);
}

void bench_ingest(uint64_t events, bool with_one_commit) {
  auto batched = ingest_rate(events, "", "ingest");
  if (!batched) {
    std::printf("ingest           did not finish\n");
    return;
  }
  print("ingest", "durable events/s (group commit)", *batched, "ev/s");
  if (!with_one_commit) return;
  const uint64_t few = std::max<uint64_t>(events / 20, 2000);
  auto single = ingest_rate(few, "[journal]\nmax_batch = 1\n", "ingest1");
  if (!single) return;
  print("ingest_1commit", "durable events/s (1 fsync/event)", *single, "ev/s");
  print("ingest", "group commit / one commit per event", *batched / *single, "x");
}

void bench_latency() {
  const uint64_t events = 10'000;
  bridge b("latency", sim_toml(1000, events), "");
  if (!b.wait_for(events, 120)) {
    std::printf("latency          did not finish\n");
    return;
  }
  auto up = b.account_status()["upstream"]["confirmLatencyUs"];
  print("latency", "receipt->confirm p50 @1000 ev/s", up.value("p50", 0.0) / 1000.0, "ms");
  print("latency", "receipt->confirm p99 @1000 ev/s", up.value("p99", 0.0) / 1000.0, "ms");
  print("latency", "receipt->confirm max @1000 ev/s", up.value("max", 0.0) / 1000.0, "ms");
}

void bench_drain(uint64_t events) {
  bridge b("drain", sim_toml(0, events), "");
  if (!b.wait_for(events, 300)) {
    std::printf("drain            did not finish\n");
    return;
  }
  auto c = b.client();
  uint64_t drained = 0;
  const auto start = steady::now();
  // The client only finds the seqs (every event object starts with
  // {"seq":N, and that text cannot occur unescaped inside a string), so the
  // figure is the bridge's serving rate, not this process's JSON parser's.
  const std::string marker = "{\"seq\":";
  for (;;) {
    auto res = c.Get("/messages?limit=1000&consumer=drain");
    if (!res || res->status != 200) break;
    const std::string& body = res->body;
    uint64_t count = 0;
    size_t last_at = std::string::npos;
    for (size_t at = body.find(marker); at != std::string::npos; at = body.find(marker, at + 1)) {
      ++count;
      last_at = at;
    }
    if (count == 0) break;
    drained += count;
    const uint64_t last = std::strtoull(body.c_str() + last_at + marker.size(), nullptr, 10);
    c.Post("/ack", json{{"up_to_seq", last}, {"consumer", "drain"}}.dump(), "application/json");
  }
  const double secs = seconds_since(start);
  print("drain", "consumer limit=1000 + ack", double(drained) / secs, "ev/s");
}

void bench_jsonl_baseline() {
  // The queue a careful hand-written bridge would have: append a JSON line,
  // fdatasync, then confirm. One fsync per event, nothing shared.
  const auto path = std::filesystem::temp_directory_path() /
                    ("wabridge-bench-jsonl-" + std::to_string(::getpid()));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  const std::string line = "{\"body\":\"" + std::string(480, 'x') + "\"}\n";
  uint64_t n = 0;
  const auto start = steady::now();
  while (seconds_since(start) < 2.0) {
    if (::write(fd, line.data(), line.size()) < 0 || ::fdatasync(fd) != 0) break;
    ++n;
  }
  const double secs = seconds_since(start);
  ::close(fd);
  std::filesystem::remove(path);
  print("jsonl_baseline", "append + fdatasync per event", double(n) / secs, "ev/s");
}

// One answer (or failure) seen by the restart bench's prober.
struct probe_sample {
  steady::time_point at;
  bool ok = false;
  int64_t worker_pid = 0;
  std::string error;  // why it failed
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void bench_restart() {
  constexpr int restarts = 6;
  bridge b("restart", sim_toml(1000, 0), "[supervisor]\nwatch_interval = \"100ms\"\n", "info",
           /*own_binary=*/true);
  std::atomic<bool> stop{false};

  // A gateway-like consumer: long-poll, ack each page; counts seq gaps.
  std::atomic<uint64_t> consumer_gaps{0};
  std::atomic<uint64_t> consumed{0};
  std::thread consumer([&] {
    uint64_t acked = 0;
    auto c = b.client();
    c.Post("/ack", json{{"up_to_seq", 0}, {"consumer", "bench"}}.dump(), "application/json");
    const std::string marker = "{\"seq\":";
    while (!stop) {
      auto res = c.Get("/messages?limit=1000&wait=1&consumer=bench");
      if (!res || res->status != 200) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      const std::string& body = res->body;
      const size_t first_at = body.find(marker);
      if (first_at == std::string::npos) continue;
      const uint64_t first = std::strtoull(body.c_str() + first_at + marker.size(), nullptr, 10);
      if (first != acked + 1) ++consumer_gaps;
      const uint64_t last =
          std::strtoull(body.c_str() + body.rfind(marker) + marker.size(), nullptr, 10);
      auto ack = c.Post("/ack", json{{"up_to_seq", last}, {"consumer", "bench"}}.dump(),
                        "application/json");
      if (ack && ack->status == 200) {
        consumed += last - acked;
        acked = last;
      }
    }
  });

  // Fresh connection per request, no pause: what a client sees of a restart.
  std::vector<probe_sample> samples;
  std::thread prober([&] {
    while (!stop) {
      httplib::Client c("127.0.0.1", b.port());
      c.set_keep_alive(false);
      c.set_read_timeout(30, 0);
      auto res = c.Get("/health");
      probe_sample sample{steady::now(), res && res->status == 200, 0, {}};
      if (!sample.ok)
        sample.error =
            res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
      if (sample.ok) {
        auto body = json::parse(res->body, nullptr, false);
        if (body.is_object()) sample.worker_pid = body.value("workerPid", int64_t{0});
      }
      samples.push_back(sample);
    }
  });

  std::this_thread::sleep_for(1s);
  for (int i = 0; i < restarts; ++i) {
    const auto before = b.get("/health").value("workerPid", int64_t{0});
    if (i % 2 == 0) {
      ::kill(b.pid(), SIGHUP);
    } else {
      const std::string fresh = b.binary_path() + ".new";
      std::filesystem::copy_file(WABRIDGE_BINARY, fresh);
      std::filesystem::rename(fresh, b.binary_path());
    }
    const auto start = steady::now();
    while (seconds_since(start) < 30 && b.get("/health").value("workerPid", before) == before)
      std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(500ms);
  }
  stop = true;
  prober.join();
  consumer.join();

  std::vector<double> gaps;
  uint64_t failures = 0;
  int64_t pid = 0;
  steady::time_point last_of_old{};
  for (const auto& s : samples) {
    if (!s.ok) {
      if (++failures <= 3)
        std::printf("restart          failed request: %s (%.0f ms after the last answer)\n",
                    s.error.c_str(),
                    std::chrono::duration<double, std::milli>(s.at - last_of_old).count());
      continue;
    }
    if (pid != 0 && s.worker_pid != pid)
      gaps.push_back(std::chrono::duration<double, std::milli>(s.at - last_of_old).count());
    pid = s.worker_pid;
    last_of_old = s.at;
  }
  std::vector<double> drains;
  const std::string log = b.log_text();
  const std::string needle = "supervisor drain done ";
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    const size_t took = log.find("took_ms=", at);
    if (took != std::string::npos) drains.push_back(std::strtod(log.c_str() + took + 8, nullptr));
  }
  print("restart", "graceful restarts measured", double(gaps.size()), "");
  print("restart", "gap last old->first new, median", median(gaps), "ms");
  print("restart", "gap last old->first new, max",
        gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end()), "ms");
  print("restart", "worker drain time @1000 ev/s, median", median(drains), "ms");
  print("restart", "worker drain time @1000 ev/s, max",
        drains.empty() ? 0 : *std::max_element(drains.begin(), drains.end()), "ms");
  print("restart", "failed or refused requests", double(failures), "");
  print("restart", "requests answered", double(samples.size() - failures), "");
  print("restart", "consumer seq gaps", double(consumer_gaps), "");
  print("restart", "events consumed and acked", double(consumed), "");
}

// RssAnon of a process in MiB (/proc/PID/status), or -1.
double anon_rss_mib(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtod(line.c_str() + 8, nullptr) / 1024.0;
  }
  return -1;
}

// Boot with a large unacked backlog: the journal holds `events` events that
// no consumer has acked; a graceful stop, then a fresh `wabridge run` on the
// same data dir. Time to ready (spawn -> first /health 200), the first
// GET /messages after that, and the worker's anonymous memory.
void bench_boot(uint64_t events) {
  // Realistic bodies (body_bytes = 0: mostly short texts), as a phone's
  // backlog would be; a map large enough for a million of them.
  bridge b("boot", "[account.sim]\nrate = 0\ntotal = " + std::to_string(events) + "\n",
           "[journal]\nmap_size = \"8GiB\"\n");
  if (!b.wait_for(events, 600)) {
    std::printf("boot             backlog of %llu events did not build\n",
                static_cast<unsigned long long>(events));
    return;
  }
  const int64_t builder_pid = b.get("/health").value("workerPid", int64_t{0});
  const double built_rss = anon_rss_mib(builder_pid);
  // The worker trims malloc's arenas every 5 s while it waits for signals.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  const double settled_rss = anon_rss_mib(builder_pid);
  b.stop();
  uint64_t journal_bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(b.dir() / "data")) {
    if (entry.is_regular_file()) journal_bytes += entry.file_size();
  }

  // The page cache keeps the journal warm, as it is for a deploy or a
  // crash restart; a boot after a reboot also pays the disk reads of the few
  // pages it touches (the journal is mapped, not read in).
  const auto spawned = steady::now();
  b.spawn();
  if (!b.wait_ready(60)) {
    std::printf("boot             did not become ready\n");
    return;
  }
  const double ready_ms = seconds_since(spawned) * 1000.0;
  auto c = b.client();
  const auto get_start = steady::now();
  auto first = c.Get("/messages?limit=100&consumer=boot");
  const double first_get_ms = seconds_since(get_start) * 1000.0;
  const double to_first_answer_ms = seconds_since(spawned) * 1000.0;
  const bool first_ok = first && first->status == 200 && first->body.find("{\"seq\":1,") == 1;
  const int64_t worker = b.get("/health").value("workerPid", int64_t{0});
  const double rss_ready = anon_rss_mib(worker);
  // A consumer pages through 100,000 of the backlog (limit=1000, acking).
  const std::string marker = "{\"seq\":";
  uint64_t read = 0;
  while (read < std::min<uint64_t>(events, 100'000)) {
    auto res = c.Get("/messages?limit=1000&consumer=pager");
    if (!res || res->status != 200) break;
    const size_t last_at = res->body.rfind(marker);
    if (last_at == std::string::npos) break;
    const uint64_t last = std::strtoull(res->body.c_str() + last_at + marker.size(), nullptr, 10);
    c.Post("/ack", json{{"up_to_seq", last}, {"consumer", "pager"}}.dump(), "application/json");
    read = last;
  }
  const double rss_paged = anon_rss_mib(worker);
  const auto health = b.get("/health");

  print("boot", "unacked backlog", double(events), "events");
  print("boot", "data dir size", double(journal_bytes) / (1024.0 * 1024.0), "MiB");
  print("boot", "spawn -> ready (GET /health 200)", ready_ms, "ms");
  print("boot", "first GET /messages?limit=100", first_get_ms, "ms");
  print("boot", "spawn -> first page answered", to_first_answer_ms, "ms");
  if (!first_ok) std::printf("boot             first page did not start at seq 1\n");
  print("boot", "queueLength after boot", double(health.value("queueLength", 0ull)), "events");
  print("boot", "worker RssAnon after ingest", built_rss, "MiB");
  print("boot", "worker RssAnon 6 s after ingest", settled_rss, "MiB");
  print("boot", "worker RssAnon after boot", rss_ready, "MiB");
  print("boot", "worker RssAnon after paging 100k", rss_paged, "MiB");
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  uint64_t events = 200'000;
  uint64_t boot_events = 1'000'000;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--events" && i + 1 < argc)
      events = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--boot-events" && i + 1 < argc)
      boot_events = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--only" && i + 1 < argc)
      only = argv[++i];
    else {
      std::fprintf(stderr, "usage: wabridge_bench [--events N] [--boot-events N] [--only NAME]\n");
      return 64;
    }
  }
  std::printf("wabridge bench: %u cores, %llu events per ingest run\n",
              std::thread::hardware_concurrency(), static_cast<unsigned long long>(events));
  if (only.empty() || only == "ingest") bench_ingest(events, true);
  if (only.empty() || only == "latency") bench_latency();
  if (only.empty() || only == "drain") bench_drain(events);
  if (only.empty() || only == "jsonl") bench_jsonl_baseline();
  if (only.empty() || only == "restart") bench_restart();
  if (only.empty() || only == "boot") bench_boot(boot_events);
  return 0;
}
