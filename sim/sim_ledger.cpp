#include "sim/sim_ledger.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace wabridge::sim {
namespace {

constexpr const char* log_name = "ledger.log";
constexpr const char* lock_name = "ledger.lock";
constexpr std::string_view header = "V 1\n";

caf::error os_error(const std::string& what, const std::string& path, int err = errno) {
  return make_error(errc::io_failure, what + " " + path + ": " + std::strerror(err));
}

// mkdir -p: the ledger dir usually lives under data_dir/<account>/, created lazily.
caf::error make_dirs(const std::string& dir) {
  if (dir.empty()) return make_error(errc::invalid_argument, "empty ledger directory");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      return os_error("cannot create directory", partial);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return os_error("cannot stat", dir);
  if (!S_ISDIR(st.st_mode))
    return make_error(errc::io_failure, "ledger path " + dir + " is not a directory");
  return {};
}

caf::error write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("cannot write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

// Reads the whole file; a missing file reads as empty (a ledger not yet written).
caf::expected<std::string> read_file(const std::string& path, bool& exists) {
  exists = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string{};
    return os_error("cannot open", path);
  }
  exists = true;
  std::string text;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto err = os_error("cannot read", path);
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// Splits "X <num> <num>" into its numbers; false when the line is anything else.
template <class A, class B>
bool parse_two(std::string_view rest, A& a, B& b) {
  const char* p = rest.data();
  const char* end = p + rest.size();
  if (p == end || *p != ' ') return false;
  auto r1 = std::from_chars(p + 1, end, a);
  if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ' ') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, b);
  return r2.ec == std::errc{} && r2.ptr == end;
}

void add_time_segment(ledger_state& s, uint64_t end, int64_t secs) {
  // Coalesce: at rate 0 a whole second's batches share one segment.
  if (!s.times.empty() && s.times.back().second == secs) {
    s.times.back().first = end;
  } else {
    s.times.emplace_back(end, secs);
  }
}

// Applies one complete record; false when it is malformed (and then ignored).
// Every record is monotone (G raises a maximum, C adds to a set), so dropping
// a damaged one only costs a regeneration or a redelivery, never a loss.
bool apply_record(std::string_view line, ledger_state& s) {
  if (line.size() < 2) return false;
  char kind = line[0];
  std::string_view rest = line.substr(1);
  if (kind == 'V') return rest == " 1";
  if (kind == 'G') {
    uint64_t n = 0;
    int64_t secs = 0;
    if (!parse_two(rest, n, secs)) return false;
    if (n > s.generated) {
      add_time_segment(s, n, secs);
      s.generated = n;
    }
    return true;
  }
  if (kind == 'C') {
    uint64_t a = 0;
    uint64_t b = 0;
    if (!parse_two(rest, a, b) || a >= b) return false;
    s.confirmed.insert(a, b);
    // A confirm proves the events were sent, even if their "G" was lost.
    s.generated = std::max(s.generated, b);
    return true;
  }
  return false;
}

struct parse_result {
  ledger_state state;
  size_t valid_bytes = 0;    // prefix made of complete records
  uint64_t bad_records = 0;  // complete but malformed lines, skipped
  bool unknown_version = false;
};

parse_result parse_ledger(std::string_view text) {
  parse_result out;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // torn tail: a crash mid-append
    std::string_view line = text.substr(pos, nl - pos);
    if (first && !line.empty() && line[0] == 'V' && line != "V 1") out.unknown_version = true;
    first = false;
    if (!line.empty() && !apply_record(line, out.state)) ++out.bad_records;
    pos = nl + 1;
  }
  out.valid_bytes = pos;
  return out;
}

// "G 1024 1700000000\n" / "C 0 1024\n"
template <class A, class B>
std::string record(char kind, A a, B b) {
  std::string out(1, kind);
  out += ' ';
  out += std::to_string(a);
  out += ' ';
  out += std::to_string(b);
  out += '\n';
  return out;
}

std::string render(const ledger_state& s) {
  std::string out(header);
  for (const auto& [end, secs] : s.times) out += record('G', end, secs);
  for (const auto& [begin, end] : s.confirmed.ranges()) out += record('C', begin, end);
  return out;
}

// Keeps the time segments some unconfirmed index still needs, and the last
// one (it dates the high-water mark).
std::vector<std::pair<uint64_t, int64_t>> needed_times(const ledger_state& s) {
  std::vector<std::pair<uint64_t, int64_t>> kept;
  uint64_t begin = 0;
  for (size_t k = 0; k < s.times.size(); ++k) {
    const auto& seg = s.times[k];
    bool last = k + 1 == s.times.size();
    if (last || !s.confirmed.covers(begin, seg.first)) kept.push_back(seg);
    begin = seg.first;
  }
  return kept;
}

caf::error fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return os_error("cannot fsync directory", dir, err);
  return {};
}

}  // namespace

// ---- interval_set ---------------------------------------------------------------

void interval_set::insert(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // First range that could touch [begin, end): the one starting at or before begin.
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) it = prev;
  }
  while (it != ranges_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    count_ -= it->second - it->first;
    it = ranges_.erase(it);
  }
  ranges_.emplace(begin, end);
  count_ += end - begin;
}

bool interval_set::contains(uint64_t i) const {
  auto it = ranges_.upper_bound(i);
  if (it == ranges_.begin()) return false;
  return std::prev(it)->second > i;
}

bool interval_set::covers(uint64_t begin, uint64_t end) const {
  if (begin >= end) return true;
  auto it = ranges_.upper_bound(begin);
  if (it == ranges_.begin()) return false;
  --it;
  return it->first <= begin && it->second >= end;
}

std::vector<interval_set::range> interval_set::gaps(uint64_t begin, uint64_t end) const {
  std::vector<range> out;
  if (begin >= end) return out;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) --it;
  uint64_t cursor = begin;
  for (; it != ranges_.end() && it->first < end; ++it) {
    if (it->second <= cursor) continue;
    if (it->first > cursor) out.emplace_back(cursor, it->first);
    cursor = std::max(cursor, it->second);
    if (cursor >= end) break;
  }
  if (cursor < end) out.emplace_back(cursor, end);
  return out;
}

// ---- ledger_state ---------------------------------------------------------------

uint64_t ledger_state::confirmed_count() const {
  uint64_t n = 0;
  for (const auto& [begin, end] : confirmed.ranges()) {
    if (begin >= generated) break;
    n += std::min(end, generated) - begin;
  }
  return n;
}

std::vector<interval_set::range> ledger_state::unconfirmed_ranges() const {
  return confirmed.gaps(0, generated);
}

std::vector<uint64_t> ledger_state::unconfirmed() const {
  std::vector<uint64_t> out;
  for (const auto& [begin, end] : unconfirmed_ranges())
    for (uint64_t i = begin; i < end; ++i) out.push_back(i);
  return out;
}

std::optional<int64_t> ledger_state::generated_at(uint64_t i) const {
  if (i >= generated) return std::nullopt;
  auto it = std::upper_bound(times.begin(), times.end(), i,
                             [](uint64_t v, const auto& seg) { return v < seg.first; });
  if (it == times.end()) return std::nullopt;
  return it->second;
}

caf::expected<ledger_state> read_ledger(const std::string& dir) {
  std::string path = dir + "/" + log_name;
  bool exists = false;
  auto text = read_file(path, exists);
  if (!text) return text.error();
  auto parsed = parse_ledger(*text);
  if (parsed.unknown_version)
    return make_error(errc::io_failure, path + ": unsupported ledger version");
  return std::move(parsed.state);
}

// ---- sim_ledger -----------------------------------------------------------------

sim_ledger::sim_ledger(std::string dir, ledger_options options)
    : dir_(std::move(dir)), path_(dir_ + "/" + log_name), options_(options) {}

sim_ledger::~sim_ledger() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

caf::expected<std::unique_ptr<sim_ledger>> sim_ledger::open(const std::string& dir,
                                                            ledger_options options) {
  if (auto err = make_dirs(dir)) return err;
  std::unique_ptr<sim_ledger> self{new sim_ledger(dir, options)};

  // A separate lock file, because compaction replaces ledger.log's inode.
  std::string lock_path = dir + "/" + lock_name;
  self->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (self->lock_fd_ < 0) return os_error("cannot open", lock_path);
  if (::flock(self->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return os_error("cannot lock", lock_path);
    char buf[32] = {};
    ssize_t n = ::pread(self->lock_fd_, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return make_error(errc::io_failure, "ledger " + dir +
                                            " is in use by another sim-upstream (pid " + holder +
                                            "); two sims must never share a ledger");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(self->lock_fd_, 0) != 0 ||
      ::pwrite(self->lock_fd_, pid.data(), pid.size(), 0) < 0)
    return os_error("cannot write", lock_path);

  bool exists = false;
  auto text = read_file(self->path_, exists);
  if (!text) return text.error();
  auto parsed = parse_ledger(*text);
  if (parsed.unknown_version)
    return make_error(errc::io_failure, self->path_ + ": unsupported ledger version");
  self->state_ = std::move(parsed.state);

  self->fd_ = ::open(self->path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (self->fd_ < 0) return os_error("cannot open", self->path_);
  if (parsed.valid_bytes < text->size()) {
    // Drop the torn record, or the next append would glue onto it.
    if (::ftruncate(self->fd_, static_cast<off_t>(parsed.valid_bytes)) != 0)
      return os_error("cannot truncate", self->path_);
  }
  self->file_bytes_ = parsed.valid_bytes;
  self->compacted_bytes_ = parsed.valid_bytes;
  if (self->file_bytes_ == 0) {
    if (auto err = self->append(header.data(), header.size())) return err;
    self->compacted_bytes_ = self->file_bytes_;
  } else if (parsed.bad_records > 0 || self->file_bytes_ >= options.compact_min_bytes) {
    // Damaged lines are gone after a rewrite; a big file shrinks to its state.
    if (auto err = self->compact()) return err;
  }
  return self;
}

caf::error sim_ledger::append(const char* data, size_t size) {
  if (auto err = write_all(fd_, data, size, path_)) return err;
  file_bytes_ += size;
  return {};
}

caf::error sim_ledger::maybe_compact() {
  if (file_bytes_ >= options_.compact_min_bytes && file_bytes_ >= 4 * compacted_bytes_)
    return compact();
  return {};
}

caf::error sim_ledger::record_generated(uint64_t n, int64_t unix_secs) {
  if (n < state_.generated)
    return make_error(errc::invalid_argument, "ledger: generated count may not go down (" +
                                                  std::to_string(n) + " < " +
                                                  std::to_string(state_.generated) + ")");
  if (n == state_.generated) return {};
  std::string line = record('G', n, unix_secs);
  if (auto err = append(line.data(), line.size())) return err;
  add_time_segment(state_, n, unix_secs);
  state_.generated = n;
  return maybe_compact();
}

caf::error sim_ledger::record_confirmed(uint64_t begin, uint64_t end) {
  if (begin >= end || state_.confirmed.covers(begin, end)) return {};
  std::string line = record('C', begin, end);
  if (auto err = append(line.data(), line.size())) return err;
  state_.confirmed.insert(begin, end);
  state_.generated = std::max(state_.generated, end);
  return maybe_compact();
}

caf::error sim_ledger::record_confirmed(std::vector<uint64_t> indices) {
  std::sort(indices.begin(), indices.end());
  size_t k = 0;
  while (k < indices.size()) {
    uint64_t begin = indices[k];
    uint64_t end = begin + 1;
    ++k;
    while (k < indices.size() && indices[k] <= end) {
      end = std::max(end, indices[k] + 1);
      ++k;
    }
    if (auto err = record_confirmed(begin, end)) return err;
  }
  return {};
}

caf::error sim_ledger::compact() {
  ledger_state minimal = state_;
  minimal.times = needed_times(state_);
  if (minimal.generated > 0 &&
      (minimal.times.empty() || minimal.times.back().first != minimal.generated)) {
    // Confirms raised `generated` past the last "G" (its record was lost):
    // date the tail like its predecessor, or 0 when nothing is known.
    add_time_segment(minimal, minimal.generated,
                     minimal.times.empty() ? int64_t{0} : minimal.times.back().second);
  }
  std::string text = render(minimal);

  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("cannot create", tmp);
  auto err = write_all(fd, text.data(), text.size(), tmp);
  if (!err && ::fsync(fd) != 0) err = os_error("cannot fsync", tmp);
  ::close(fd);
  if (err) {
    ::unlink(tmp.c_str());
    return err;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    err = os_error("cannot rename to", path_);
    ::unlink(tmp.c_str());
    return err;
  }
  if (auto dir_err = fsync_dir(dir_)) return dir_err;

  int new_fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (new_fd < 0) return os_error("cannot reopen", path_);
  ::close(fd_);
  fd_ = new_fd;
  state_.times = std::move(minimal.times);
  file_bytes_ = text.size();
  compacted_bytes_ = text.size();
  return {};
}

}  // namespace wabridge::sim
