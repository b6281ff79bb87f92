#include "sim/sim_upstream.hpp"

#include "sim/sim_event_generator.hpp"
#include "sim/sim_ledger.hpp"
#include "sim/sim_sent_ledger.hpp"
#include "upstream/protocol.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <variant>

namespace wabridge::sim {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr const char* sim_version = "0.1.0";
// A confirm for 100k uids is ~6 MB; anything far beyond that is not a worker line.
constexpr size_t max_line_bytes = 64u << 20;
constexpr int unknown_uid_log_limit = 10;

// One stderr line per call (stdout is the protocol). fwrite of a whole line
// is atomic with respect to the other thread's lines.
void log_line(const std::string& account, const std::string& text) {
  std::string line =
      "sim-upstream account=" + (account.empty() ? std::string("-") : account) + " " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// ---- what the reader thread hands to the main thread -----------------------------

struct confirm_item {
  std::vector<uint64_t> indices;     // parsed from uids this generator produced
  std::vector<std::string> foreign;  // uids that are not shaped like ours (for the log)
};
struct eof_item {};
using inbox_item = std::variant<confirm_item, upstream::send_msg, upstream::stop_msg, eof_item>;

// The only state both threads touch: a queue plus an eventfd the main thread
// polls, so it can wait for input and for stdout at the same time.
class inbox {
 public:
  inbox() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~inbox() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  bool valid() const { return wake_fd_ >= 0; }
  int fd() const { return wake_fd_; }

  void push(inbox_item item) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      items_.push_back(std::move(item));
    }
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  std::deque<inbox_item> take() {
    uint64_t drained = 0;
    [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof drained);
    std::lock_guard<std::mutex> guard{mtx_};
    std::deque<inbox_item> out;
    out.swap(items_);
    return out;
  }

 private:
  int wake_fd_;
  std::mutex mtx_;
  std::deque<inbox_item> items_;
};

// ---- the stdin reader ----------------------------------------------------------

class stdin_reader {
 public:
  stdin_reader(const sim_event_generator& gen, inbox& box, std::string account)
      : gen_(gen),
        box_(box),
        account_(std::move(account)),
        quit_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  ~stdin_reader() {
    stop();
    if (quit_fd_ >= 0) ::close(quit_fd_);
  }
  stdin_reader(const stdin_reader&) = delete;
  stdin_reader& operator=(const stdin_reader&) = delete;

  bool start() {
    if (quit_fd_ < 0) return false;
    thread_ = std::thread([this] { run(); });
    return true;
  }

  // Joins; a blocking read() cannot be interrupted, hence poll() on quit_fd_.
  void stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(quit_fd_, &one, sizeof one);
    thread_.join();
  }

 private:
  void run() {
    std::string pending;
    bool discarding = false;  // inside an over-long line, skipping to its newline
    std::vector<char> buf(1 << 16);
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {quit_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        log_line(account_, "level=error msg=\"poll(stdin) failed\" error=\"" +
                               std::string(std::strerror(errno)) + "\"");
        box_.push(eof_item{});
        return;
      }
      if (fds[1].revents != 0) return;
      ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        log_line(account_, "level=error msg=\"read(stdin) failed\" error=\"" +
                               std::string(std::strerror(errno)) + "\"");
        box_.push(eof_item{});
        return;
      }
      if (n == 0) {
        box_.push(eof_item{});
        return;
      }
      const char* p = buf.data();
      const char* end = p + n;
      while (p < end) {
        const char* nl =
            static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        if (nl == nullptr) {
          if (!discarding) pending.append(p, end);
          if (pending.size() > max_line_bytes) {
            log_line(account_, "level=warn msg=\"line longer than the limit; discarded\" bytes=" +
                                   std::to_string(pending.size()));
            pending.clear();
            discarding = true;
          }
          break;
        }
        if (discarding) {
          discarding = false;
        } else {
          pending.append(p, nl);
          on_line(pending);
        }
        pending.clear();
        p = nl + 1;
      }
    }
  }

  void on_line(std::string& line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    auto msg = upstream::parse_worker_line(line);
    if (!msg) {
      log_line(account_, "level=warn msg=\"malformed line from worker; ignored\" error=\"" +
                             describe(msg.error()) + "\"");
      return;
    }
    if (auto* confirm = std::get_if<upstream::confirm_msg>(&*msg)) {
      confirm_item item;
      item.indices.reserve(confirm->uids.size());
      for (auto& uid : confirm->uids) {
        auto i = index_of_uid(uid);
        // The chat part must match too: a uid from another stream (or account)
        // must never mark one of ours as confirmed.
        if (i && gen_.uid(*i) == uid) {
          item.indices.push_back(*i);
        } else {
          item.foreign.push_back(std::move(uid));
        }
      }
      box_.push(std::move(item));
    } else if (auto* send = std::get_if<upstream::send_msg>(&*msg)) {
      box_.push(std::move(*send));
    } else {
      box_.push(upstream::stop_msg{});
    }
  }

  const sim_event_generator& gen_;
  inbox& box_;
  std::string account_;
  int quit_fd_;
  std::thread thread_;
};

// ---- the server --------------------------------------------------------------

class sim_server {
 public:
  explicit sim_server(const sim_upstream_options& options)
      : options_(options),
        gen_(generator_options{options.seed, options.account, options.chats, options.body_bytes}),
        batch_(std::max<uint32_t>(options.batch_events, 1)) {}

  int run();

 private:
  enum class flow { go_on, exit_now };

  void log(const std::string& text) const { log_line(options_.account, text); }

  void setup_stdout();
  flow service_inbox();
  flow handle(confirm_item& item);
  void answer(const upstream::send_msg& msg);
  void answer_message_op(const upstream::send_msg& msg, upstream::send_result_msg& res);
  flow deliver_due_answers();
  int ms_until_next_answer() const;
  flow flush(std::optional<clock_type::time_point> deadline = std::nullopt);
  flow wait_input(int timeout_ms);
  flow redeliver_some();
  flow generate_some(bool& idle_until_due, clock_type::time_point& next_due);
  int finish_stop();
  void fatal(const caf::error& err, const char* what) {
    log("level=error msg=\"" + std::string(what) + "\" error=\"" + describe(err) + "\"");
    exit_code_ = 1;
  }

  sim_upstream_options options_;
  sim_event_generator gen_;
  uint32_t batch_;
  std::unique_ptr<sim_ledger> ledger_;
  inbox inbox_;

  std::string out_;      // bytes not yet written to stdout
  size_t out_done_ = 0;  // prefix of out_ already written
  bool stdout_nonblocking_ = false;
  bool stdout_open_ = true;

  std::vector<interval_set::range> redelivery_;  // from the ledger at start
  size_t redelivery_pos_ = 0;
  uint64_t redelivery_next_ = 0;
  uint64_t redelivered_ = 0;

  bool live_started_ = false;
  clock_type::time_point live_t0_;
  uint64_t live_base_ = 0;

  bool stopping_ = false;
  clock_type::time_point stop_deadline_;  // set with stopping_
  bool eof_ = false;
  int exit_code_ = 0;
  uint64_t next_send_ = 0;

  // Outbound: answers of message sends wait here until due (send_delay_ms);
  // strictly in arrival order.
  struct pending_answer {
    clock_type::time_point due;
    upstream::send_result_msg result;
    std::optional<sent_record> record;  // what to append to sent.jsonl when answered ok
  };
  std::deque<pending_answer> pending_answers_;
  std::unique_ptr<sent_ledger_writer> sent_;
  std::set<std::string> accepted_ids_;  // message ids taken (sent or about to be)
  std::mt19937_64 send_rng_;
  uint64_t duplicate_sends_ = 0;
  int unknown_logged_ = 0;
  uint64_t confirmed_this_run_ = 0;
};

void sim_server::setup_stdout() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) {
    // Our own pipe to the worker: non-blocking, so a full pipe never keeps us
    // from reading "stop" or confirms; bigger, so rate-0 batches go in one
    // write. Left alone when stdout is a terminal or file shared with others.
    int flags = ::fcntl(STDOUT_FILENO, F_GETFL);
    if (flags >= 0 && ::fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK) == 0)
      stdout_nonblocking_ = true;
    [[maybe_unused]] int rc = ::fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  }
}

sim_server::flow sim_server::service_inbox() {
  for (auto& item : inbox_.take()) {
    if (auto* confirm = std::get_if<confirm_item>(&item)) {
      if (handle(*confirm) == flow::exit_now) return flow::exit_now;
    } else if (auto* send = std::get_if<upstream::send_msg>(&item)) {
      answer(*send);
    } else if (std::holds_alternative<upstream::stop_msg>(item)) {
      if (!stopping_) {
        log("level=info msg=\"stop received; draining\"");
        stop_deadline_ =
            clock_type::now() + std::chrono::milliseconds(options_.stop_flush_timeout_ms);
      }
      stopping_ = true;
    } else {
      eof_ = true;
      return flow::exit_now;
    }
  }
  return flow::go_on;
}

sim_server::flow sim_server::handle(confirm_item& item) {
  // Only indices we generated count; anything else is a worker bug worth a log.
  uint64_t generated = ledger_->state().generated;
  auto beyond = std::partition(item.indices.begin(), item.indices.end(),
                               [&](uint64_t i) { return i < generated; });
  for (auto it = beyond; it != item.indices.end(); ++it) item.foreign.push_back(gen_.uid(*it));
  item.indices.erase(beyond, item.indices.end());
  if (!item.foreign.empty() && unknown_logged_ < unknown_uid_log_limit) {
    ++unknown_logged_;
    log("level=warn msg=\"confirm for uids this sim never sent; ignored\" count=" +
        std::to_string(item.foreign.size()) + " example=\"" + item.foreign.front() + "\"" +
        (unknown_logged_ == unknown_uid_log_limit ? " note=\"further such logs suppressed\"" : ""));
  }
  confirmed_this_run_ += item.indices.size();
  if (auto err = ledger_->record_confirmed(std::move(item.indices))) {
    fatal(err, "cannot record confirms in the ledger");
    return flow::exit_now;
  }
  return flow::go_on;
}

namespace {

bool is_message_op(const std::string& op) {
  return op == "send" || op == "edit" || op == "send-media" || op == "send-poll" ||
         op == "send-location" || op == "react";
}

// What a message op needs, as WhatsApp would refuse it; "" when fine.
std::string check_args(const std::string& op, const nlohmann::json& args) {
  auto str = [&](const char* key) {
    auto it = args.find(key);
    return it != args.end() && it->is_string() && !it->get<std::string>().empty();
  };
  if (!str("chatId")) return "chatId is required";
  if ((op == "send" || op == "edit") && !str("message")) return "message is required";
  if ((op == "edit" || op == "react") && !str("messageId")) return "messageId is required";
  if (op == "react" && !(args.contains("emoji") && args["emoji"].is_string()))
    return "emoji is required";
  if (op == "send-poll" && !(str("question") && args.contains("options") &&
                             args["options"].is_array() && args["options"].size() >= 2))
    return "question and at least 2 options are required";
  if (op == "send-location" && !(args.contains("latitude") && args["latitude"].is_number() &&
                                 args.contains("longitude") && args["longitude"].is_number()))
    return "latitude and longitude are required";
  if (op == "send-media") {
    if (!str("filePath")) return "filePath is required";
    struct stat st {};
    const std::string path = args["filePath"].get<std::string>();
    if (::stat(path.c_str(), &st) != 0) return "file not found: " + path;
  }
  return {};
}

}  // namespace

void sim_server::answer(const upstream::send_msg& msg) {
  upstream::send_result_msg res;
  res.id = msg.id;
  if (is_message_op(msg.op)) {
    answer_message_op(msg, res);
    return;
  }
  if (msg.op == "typing" || msg.op == "read") {
    res.ok = true;
  } else if (msg.op == "chat") {
    const std::string chat = msg.args.contains("chatId") && msg.args["chatId"].is_string()
                                 ? msg.args["chatId"].get<std::string>()
                                 : "";
    if (chat.empty()) {
      res.error = "chatId is required";
    } else {
      res.ok = true;
      res.data = gen_.chat_info(chat);
      if (res.data.is_null()) {
        const bool group = chat.size() > 5 && chat.compare(chat.size() - 5, 5, "@g.us") == 0;
        res.data = nlohmann::json{{"name", chat.substr(0, chat.find('@'))},
                                  {"isGroup", group},
                                  {"participants", nlohmann::json::array()}};
      }
    }
  } else {
    res.error = "unsupported op";
  }
  if (!stdout_open_) {
    log("level=warn msg=\"send after stop; not answered\" id=\"" + msg.id + "\"");
    return;
  }
  out_ += upstream::format_send_result(res);
  out_ += '\n';
}

void sim_server::answer_message_op(const upstream::send_msg& msg, upstream::send_result_msg& res) {
  const auto now = clock_type::now();
  if (const std::string why = check_args(msg.op, msg.args); !why.empty()) {
    res.error = why;
    pending_answers_.push_back({now, res, std::nullopt});
    return;
  }
  std::string id = msg.message_id;
  if (id.empty()) {
    // Unique across restarts without any state: microseconds at start + a counter.
    if (next_send_ == 0)
      next_send_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    id = "SIMOUT" + std::to_string(next_send_++);
  }
  if (accepted_ids_.count(id) != 0) {
    // WhatsApp keys a message by its id: the same id again is the same message.
    ++duplicate_sends_;
    log("level=info msg=\"message id seen before; not sent again\" message_id=" + id +
        " duplicates=" + std::to_string(duplicate_sends_));
    res.ok = true;
    res.message_ids.push_back(id);
    pending_answers_.push_back({now, res, std::nullopt});
    return;
  }
  // The worker promises one send at a time: one arriving while an earlier
  // one is unanswered is a bug on its side, recorded for the tests.
  const bool overlap = std::any_of(pending_answers_.begin(), pending_answers_.end(),
                                   [](const pending_answer& p) { return p.record.has_value(); });
  if (overlap)
    log("level=warn msg=\"send arrived while another was unanswered (overlap)\" id=\"" + msg.id +
        "\"");
  const double roll = std::uniform_real_distribution<double>(0.0, 1.0)(send_rng_);
  if (roll < options_.send_stall) {
    log("level=info msg=\"stalling a send (never answered)\" id=\"" + msg.id + "\"");
    return;
  }
  const auto due = now + std::chrono::milliseconds(options_.send_delay_ms);
  if (roll < options_.send_stall + options_.send_fail) {
    res.error = "simulated failure";
    pending_answers_.push_back({due, res, std::nullopt});
    return;
  }
  accepted_ids_.insert(id);
  res.ok = true;
  res.message_ids.push_back(id);
  sent_record record;
  record.message_id = id;
  record.op = msg.op;
  record.chat_id = msg.args["chatId"].get<std::string>();
  record.args = msg.args;
  record.overlap = overlap;
  pending_answers_.push_back({due, res, std::move(record)});
}

// Answers (and records) the message sends whose time has come, in order.
sim_server::flow sim_server::deliver_due_answers() {
  const auto now = clock_type::now();
  while (!pending_answers_.empty() && pending_answers_.front().due <= now) {
    auto answer = std::move(pending_answers_.front());
    pending_answers_.pop_front();
    if (answer.record) {
      answer.record->at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      if (auto err = sent_->append(*answer.record)) {
        fatal(err, "cannot record a sent message");
        return flow::exit_now;
      }
    }
    if (!stdout_open_) {
      log("level=warn msg=\"send answered after stop; not written\" id=\"" + answer.result.id +
          "\"");
      continue;
    }
    out_ += upstream::format_send_result(answer.result);
    out_ += '\n';
  }
  return flow::go_on;
}

// Milliseconds until the next pending answer is due; -1 when none waits.
int sim_server::ms_until_next_answer() const {
  if (pending_answers_.empty()) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(pending_answers_.front().due -
                                                                    clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count() + 1));
}

// Writes out_ to stdout. While the pipe is full it keeps servicing the inbox,
// so confirms are recorded and "stop"/EOF are noticed even if the worker
// stops reading us.
sim_server::flow sim_server::flush(std::optional<clock_type::time_point> deadline) {
  while (out_done_ < out_.size()) {
    ssize_t n = ::write(STDOUT_FILENO, out_.data() + out_done_, out_.size() - out_done_);
    if (n > 0) {
      out_done_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {
      log("level=info msg=\"worker closed our stdout (EPIPE); exiting\"");
      return flow::exit_now;
    }
    if (n < 0 && errno != EAGAIN) {
      log("level=error msg=\"write(stdout) failed\" error=\"" + std::string(std::strerror(errno)) +
          "\"");
      exit_code_ = 1;
      return flow::exit_now;
    }
    int timeout_ms = -1;
    // Once "stop" arrived, a worker that no longer reads must not hold us forever.
    if (stopping_ && (!deadline || stop_deadline_ < *deadline)) deadline = stop_deadline_;
    if (deadline) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock_type::now());
      if (left.count() <= 0) return flow::go_on;  // caller decides; out_ keeps the rest
      timeout_ms = static_cast<int>(left.count());
    }
    pollfd fds[2] = {{STDOUT_FILENO, POLLOUT, 0}, {inbox_.fd(), POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
      log("level=error msg=\"poll(stdout) failed\"");
      exit_code_ = 1;
      return flow::exit_now;
    }
    if (fds[1].revents != 0 && service_inbox() == flow::exit_now) return flow::exit_now;
    if (fds[0].revents & (POLLERR | POLLHUP)) {
      log("level=info msg=\"worker closed our stdout; exiting\"");
      return flow::exit_now;
    }
  }
  out_.clear();
  out_done_ = 0;
  return flow::go_on;
}

sim_server::flow sim_server::wait_input(int timeout_ms) {
  pollfd fd{inbox_.fd(), POLLIN, 0};
  if (::poll(&fd, 1, timeout_ms) < 0 && errno != EINTR) {
    log("level=error msg=\"poll(inbox) failed\"");
    exit_code_ = 1;
    return flow::exit_now;
  }
  return service_inbox();
}

// Sends up to one batch of the events the worker never confirmed, as "offline".
sim_server::flow sim_server::redeliver_some() {
  const ledger_state& state = ledger_->state();
  int64_t fallback_time = unix_now();
  uint32_t n = 0;
  while (n < batch_ && redelivery_pos_ < redelivery_.size()) {
    const auto& [begin, end] = redelivery_[redelivery_pos_];
    redelivery_next_ = std::max(redelivery_next_, begin);
    if (redelivery_next_ >= end) {
      ++redelivery_pos_;
      continue;
    }
    uint64_t i = redelivery_next_++;
    if (state.is_confirmed(i)) continue;  // confirmed since we started
    gen_.append_event_line(i, state.generated_at(i).value_or(fallback_time),
                           upstream::origin::offline, out_);
    ++n;
  }
  redelivered_ += n;
  return flush();
}

// Generates the next batch of live events if any are due. Sets idle_until_due
// and next_due when nothing is due yet (rate > 0) or the total is reached.
sim_server::flow sim_server::generate_some(bool& idle_until_due, clock_type::time_point& next_due) {
  idle_until_due = false;
  uint64_t generated = ledger_->state().generated;
  uint64_t cap = options_.total > 0 ? options_.total : UINT64_MAX;
  if (generated >= cap) {
    idle_until_due = true;
    next_due = clock_type::time_point::max();
    return flow::go_on;
  }
  auto now = clock_type::now();
  if (!live_started_) {
    live_started_ = true;
    live_t0_ = now;
    live_base_ = generated;
  }
  uint64_t want = batch_;
  if (options_.rate > 0) {
    // Event k of this run (k = 0, 1, ...) is due at t0 + k / rate.
    double elapsed = std::chrono::duration<double>(now - live_t0_).count();
    auto due_total = live_base_ + static_cast<uint64_t>(elapsed * options_.rate) + 1;
    if (due_total <= generated) {
      idle_until_due = true;
      auto offset = std::chrono::duration<double>(static_cast<double>(generated - live_base_) /
                                                  options_.rate);
      next_due = live_t0_ + std::chrono::duration_cast<clock_type::duration>(offset);
      return flow::go_on;
    }
    want = std::min<uint64_t>(want, due_total - generated);
  }
  uint64_t target = std::min(cap, generated + want);
  int64_t now_secs = unix_now();
  // Ledger first: once the events are in the pipe, a crash must still find them.
  if (auto err = ledger_->record_generated(target, now_secs)) {
    fatal(err, "cannot record generated events in the ledger");
    return flow::exit_now;
  }
  for (uint64_t i = generated; i < target; ++i)
    gen_.append_event_line(i, now_secs, upstream::origin::live, out_);
  return flush();
}

// After "stop": nothing new; flush what is queued, say "stopped", close stdout
// so the worker sees EOF, and keep recording confirms briefly (the worker
// confirms what it committed during its drain), until stdin EOF or quiet.
int sim_server::finish_stop() {
  auto deadline = stop_deadline_;
  // Sends already taken are answered before stdout closes (as far as the
  // stop deadline allows): the worker waits for them.
  while (!pending_answers_.empty() && clock_type::now() < deadline && !eof_) {
    if (deliver_due_answers() == flow::exit_now) return exit_code_;
    const int wait_ms = ms_until_next_answer();
    if (wait_ms < 0) break;
    if (wait_input(wait_ms) == flow::exit_now) return exit_code_;
  }
  if (flush(deadline) == flow::exit_now) return exit_code_;
  if (out_done_ < out_.size()) {
    log("level=warn msg=\"worker not reading during drain; unsent output dropped\" bytes=" +
        std::to_string(out_.size() - out_done_));
  } else {
    out_.clear();
    out_done_ = 0;
    out_ = upstream::format_state(upstream::state_msg{upstream::link_state::stopped, "", "", ""});
    out_ += '\n';
    if (flush(deadline) == flow::exit_now) return exit_code_;
  }
  // Close stdout without freeing fd 1 for reuse: point it at /dev/null.
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDOUT_FILENO);
    ::close(devnull);
  }
  stdout_open_ = false;
  out_.clear();
  out_done_ = 0;

  uint64_t before = confirmed_this_run_;
  auto linger = std::chrono::milliseconds(options_.stop_linger_ms);
  auto hard_stop = clock_type::now() + 10 * linger;
  auto quiet_until = clock_type::now() + linger;
  while (!eof_) {
    auto now = clock_type::now();
    if (now >= quiet_until || now >= hard_stop) break;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(quiet_until - now);
    uint64_t seen = confirmed_this_run_;
    if (wait_input(static_cast<int>(wait.count()) + 1) == flow::exit_now) break;
    if (confirmed_this_run_ != seen) quiet_until = clock_type::now() + linger;
  }
  log("level=info msg=\"stopped\" generated=" + std::to_string(ledger_->state().generated) +
      " confirmed_during_drain=" + std::to_string(confirmed_this_run_ - before) + " unconfirmed=" +
      std::to_string(ledger_->state().generated - ledger_->state().confirmed_count()));
  return exit_code_;
}

int sim_server::run() {
  if (!inbox_.valid()) {
    log("level=error msg=\"eventfd failed\"");
    return 1;
  }
  auto opened = sim_ledger::open(options_.ledger_dir);
  if (!opened) {
    fatal(opened.error(), "cannot open the ledger");
    return exit_code_;
  }
  ledger_ = std::move(*opened);
  auto sent = sent_ledger_writer::open(options_.ledger_dir);
  if (!sent) {
    fatal(sent.error(), "cannot open the sent ledger");
    return exit_code_;
  }
  sent_ = std::move(*sent);
  accepted_ids_ = sent_->known_ids();
  send_rng_.seed(options_.seed * 0x9E3779B97F4A7C15ull + 0x5EED);
  const ledger_state& state = ledger_->state();
  redelivery_ = state.unconfirmed_ranges();
  uint64_t pending = 0;
  for (const auto& [begin, end] : redelivery_) pending += end - begin;
  log("level=info msg=started ledger=\"" + ledger_->path() + "\" generated=" +
      std::to_string(state.generated) + " confirmed=" + std::to_string(state.confirmed_count()) +
      " redeliver=" + std::to_string(pending) + " rate=" + std::to_string(options_.rate) +
      " total=" + std::to_string(options_.total));

  setup_stdout();
  stdin_reader reader{gen_, inbox_, options_.account};
  if (!reader.start()) {
    log("level=error msg=\"cannot start the stdin reader\"");
    return 1;
  }

  out_ +=
      upstream::format_hello(upstream::hello_msg{upstream::protocol_version, "sim", sim_version});
  out_ += '\n';
  out_ += upstream::format_state(upstream::state_msg{upstream::link_state::connecting, "", "", ""});
  out_ += '\n';
  out_ += upstream::format_state(upstream::state_msg{upstream::link_state::connected, "", "", ""});
  out_ += '\n';
  if (flush() == flow::exit_now) return exit_code_;

  bool announced_done = false;
  for (;;) {
    if (service_inbox() == flow::exit_now) break;
    if (stopping_) return finish_stop();
    if (deliver_due_answers() == flow::exit_now) break;
    if (!out_.empty() && flush() == flow::exit_now) break;

    if (redelivery_pos_ < redelivery_.size()) {
      if (redeliver_some() == flow::exit_now) break;
      if (redelivery_pos_ == redelivery_.size() && redelivered_ > 0)
        log("level=info msg=\"redelivery done\" offline=" + std::to_string(redelivered_));
      continue;
    }

    bool idle = false;
    clock_type::time_point next_due;
    if (generate_some(idle, next_due) == flow::exit_now) break;
    if (!idle) continue;
    int timeout_ms = -1;
    if (next_due != clock_type::time_point::max()) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_due - clock_type::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count() + 1));
    } else if (!announced_done) {
      announced_done = true;
      log("level=info msg=\"total reached; idle\" generated=" +
          std::to_string(ledger_->state().generated));
    }
    const int answer_ms = ms_until_next_answer();
    if (answer_ms >= 0 && (timeout_ms < 0 || answer_ms < timeout_ms)) timeout_ms = answer_ms;
    if (wait_input(timeout_ms) == flow::exit_now) break;
  }
  if (eof_) log("level=info msg=\"stdin closed; exiting\"");
  return exit_code_;
}

}  // namespace

int run_sim_upstream(const sim_upstream_options& options) {
  // Die with the worker even if it is killed -9 (stdin EOF would tell us
  // too, but only once we read). Checked after arming: the worker may
  // already be gone.
  pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
    log_line(options.account, "level=error msg=\"parent already gone; exiting\"");
    return 1;
  }
  // A closed pipe must be an EPIPE we handle, not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  sim_server server{options};
  return server.run();
}

}  // namespace wabridge::sim
