// The torture run's consumer: one thread per account that long-polls
// GET /messages and acks explicitly, like a gateway, while the bridge under it
// is killed and restarted. Now and then it "crashes": it forgets everything
// it received since its last ack (as a restarted consumer process would) and
// polls again from the bridge's durable cursor; sometimes it crashes in the
// middle of an ack, not knowing whether the ack was applied.
//
// What it checks on every page (SPEC §6, explicit acks):
//  - the page starts right after the acked seq (acked events never reappear,
//    nothing is skipped), and its seqs are contiguous;
//  - a seq always names the same event, and an event never comes under a
//    second seq;
// and at the end (seen_everything): it saw every seq 1..last at least once.
//
// It uses raw httplib and the violation log, never Catch2 (not thread-safe).
#pragma once

#include "torture/violation_log.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace wabridge::torture {

class crashing_consumer {
 public:
  /// The index of the upstream's event an eventUid names; nullopt when it
  /// names none (a sim's uids by default).
  using uid_index = std::function<std::optional<uint64_t>(const std::string& uid)>;

  /// Starts polling `account` on 127.0.0.1:port as consumer `name`.
  crashing_consumer(uint16_t port, std::string account, std::string name, uint64_t seed,
                    violation_log& violations, uid_index index_of = {});
  ~crashing_consumer();
  crashing_consumer(const crashing_consumer&) = delete;
  crashing_consumer& operator=(const crashing_consumer&) = delete;

  /// Ends the thread (waits for the request in progress).
  void stop();

  /// The cursor as the bridge last confirmed it to this consumer.
  uint64_t acked() const { return acked_; }
  uint64_t crashes() const { return crashes_; }
  uint64_t replayed() const { return replayed_; }
  /// Checks that every seq 1..last was delivered at least once; reports
  /// what is missing to the violation log. Returns the number missing.
  uint64_t check_seen_everything(uint64_t last);

 private:
  struct reply {
    int status = 0;  // 0: no answer (connection refused, reset, timeout)
    std::string body;
  };
  reply send(const std::string& method, const std::string& path, const std::string& body,
             int read_timeout_ms);
  // Sends until the bridge answers (anything but no answer or 503), or stop.
  std::optional<reply> send_until_answered(const std::string& method, const std::string& path,
                                           const std::string& body);
  bool ack(uint64_t up_to);
  void check_page(const std::string& body, uint64_t& first, uint64_t& last);
  void run();

  uint16_t port_;
  std::string account_;
  std::string name_;
  violation_log& violations_;
  std::mt19937_64 rng_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  // An ack sent by a consumer that "crashed" before reading the answer: the
  // bridge may or may not have applied it, so the next page may start after
  // either seq. Cleared once a page or an ack answer settles it.
  std::optional<uint64_t> uncertain_ack_;
  std::atomic<uint64_t> crashes_{0};
  std::atomic<uint64_t> replayed_{0};
  std::mutex history_mutex_;
  // The test's memory (not the consumer's): survives its crashes.
  uid_index index_of_;
  std::vector<uint64_t> index_plus_one_of_seq_;  // [seq] -> sim index + 1; 0 = never delivered
  std::vector<uint64_t> seq_of_index_;           // [sim index] -> seq; 0 = never delivered
  std::thread thread_;
};

}  // namespace wabridge::torture
