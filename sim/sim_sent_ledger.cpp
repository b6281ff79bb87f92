#include "sim/sim_sent_ledger.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace wabridge::sim {
namespace {

using nlohmann::json;

std::string sent_path(const std::string& dir) {
  return dir + "/sent.jsonl";
}

caf::expected<sent_record> parse_record(const std::string& line) {
  const json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(errc::io_failure, "sent.jsonl line is not a JSON object");
  sent_record r;
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  str("messageId", r.message_id);
  str("op", r.op);
  str("chatId", r.chat_id);
  if (auto it = j.find("args"); it != j.end()) r.args = *it;
  if (auto it = j.find("atMs"); it != j.end() && it->is_number_integer())
    r.at_ms = it->get<int64_t>();
  if (auto it = j.find("overlap"); it != j.end() && it->is_boolean()) r.overlap = it->get<bool>();
  if (r.message_id.empty())
    return make_error(errc::io_failure, "sent.jsonl line without messageId");
  return r;
}

}  // namespace

caf::expected<std::vector<sent_record>> read_sent_ledger(const std::string& ledger_dir) {
  std::vector<sent_record> out;
  std::ifstream in(sent_path(ledger_dir), std::ios::binary);
  if (!in) return out;
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  size_t start = 0;
  for (;;) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // a torn last line is not a record
    if (nl > start) {
      auto record = parse_record(text.substr(start, nl - start));
      if (!record) return record.error();
      out.push_back(std::move(*record));
    }
    start = nl + 1;
  }
  return out;
}

caf::expected<std::unique_ptr<sent_ledger_writer>> sent_ledger_writer::open(
    const std::string& ledger_dir) {
  std::unique_ptr<sent_ledger_writer> writer{new sent_ledger_writer()};
  writer->path_ = sent_path(ledger_dir);
  auto existing = read_sent_ledger(ledger_dir);
  if (!existing) return existing.error();
  for (const auto& r : *existing) writer->known_.insert(r.message_id);
  // A torn last line would glue onto the next record: end it first.
  struct stat st {};
  const bool torn = [&] {
    std::ifstream in(writer->path_, std::ios::binary | std::ios::ate);
    if (!in || in.tellg() <= 0) return false;
    in.seekg(-1, std::ios::end);
    char last = '\n';
    in.get(last);
    return last != '\n';
  }();
  writer->fd_ = ::open(writer->path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (writer->fd_ < 0 || ::fstat(writer->fd_, &st) != 0)
    return make_error(errc::io_failure,
                      "cannot open " + writer->path_ + ": " + std::strerror(errno));
  if (torn && ::write(writer->fd_, "\n", 1) != 1)
    return make_error(errc::io_failure, "cannot write " + writer->path_);
  return writer;
}

sent_ledger_writer::~sent_ledger_writer() {
  if (fd_ >= 0) ::close(fd_);
}

caf::error sent_ledger_writer::append(const sent_record& r) {
  std::string line = json{{"messageId", r.message_id}, {"op", r.op},
                          {"chatId", r.chat_id},       {"args", r.args},
                          {"atMs", r.at_ms},           {"overlap", r.overlap}}
                         .dump(-1, ' ', false, json::error_handler_t::replace);
  line += '\n';
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return make_error(errc::io_failure,
                        "cannot append to " + path_ + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  known_.insert(r.message_id);
  return {};
}

}  // namespace wabridge::sim
