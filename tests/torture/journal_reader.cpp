// The torture checks' incremental journal reader (see the header).
#include "torture/journal_reader.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

namespace wabridge::torture {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct http_answer {
  int status = 0;
  std::string body;
};

// Retries while the bridge gives no answer or 503, up to `deadline`.
http_answer ask(uint16_t port, const std::string& method, const std::string& path,
                const std::string& body, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(10, 0);
    const httplib::Headers headers{{"Host", "127.0.0.1"}};
    auto res = method == "GET" ? client.Get(path.c_str(), headers)
                               : client.Post(path.c_str(), headers, body, "application/json");
    if (res && res->status != 503) return http_answer{res->status, res->body};
    if (std::chrono::steady_clock::now() >= until)
      return http_answer{res ? res->status : 0, res ? res->body : httplib::to_string(res.error())};
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

journal_reader::journal_reader(std::string account, violation_log& violations)
    : account_(std::move(account)), violations_(violations) {}

bool journal_reader::read_new(
    uint16_t port, const std::function<void(uint64_t seq, const std::string& uid)>& on_event) {
  const std::string base = "/accounts/" + account_;
  if (!explicit_) {
    // Explicit mode: a poll never moves the cursor, so a page this reader
    // failed to finish comes again.
    const auto reply = ask(port, "POST", base + "/ack",
                           json{{"up_to_seq", 0}, {"consumer", consumer_}}.dump(), 30s);
    if (reply.status != 200) {
      violations_.add(account_ + ": verifier's first ack answered " + std::to_string(reply.status) +
                      " " + reply.body.substr(0, 200));
      return false;
    }
    explicit_ = true;
  }
  constexpr size_t page_limit = 1000;
  const std::string path =
      base + "/messages?limit=" + std::to_string(page_limit) + "&consumer=" + consumer_;
  for (int pages = 0; pages < 100'000; ++pages) {
    const auto reply = ask(port, "GET", path, {}, 30s);
    const json page = json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || !page.is_array()) {
      violations_.add(account_ + ": verifier's GET /messages answered " +
                      std::to_string(reply.status) + " " + reply.body.substr(0, 200));
      return false;
    }
    if (page.empty()) break;
    uint64_t seq = 0;
    for (const auto& event : page) {
      seq = event.at("seq").get<uint64_t>();
      if (seq != read_up_to_ + 1)
        violations_.add(account_ + ": journal seq " + std::to_string(seq) + " follows seq " +
                        std::to_string(read_up_to_) +
                        " (not contiguous, or acked events came back)");
      on_event(seq, event.at("eventUid").get<std::string>());
      read_up_to_ = seq;
    }
    const auto acked = ask(port, "POST", base + "/ack",
                           json{{"up_to_seq", seq}, {"consumer", consumer_}}.dump(), 30s);
    if (acked.status != 200) {
      violations_.add(account_ + ": verifier's ack answered " + std::to_string(acked.status) + " " +
                      acked.body.substr(0, 200));
      return false;
    }
    if (page.size() < page_limit) break;  // the end, as it was when this call began
  }
  return true;
}

}  // namespace wabridge::torture
