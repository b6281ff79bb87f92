// Checks of SPEC §6 shared by the black-box fault tests: consumers that
// verify every page they get (explicit acks: no gaps, acked events never
// return, a seq always names the same event; implicit: exactly once between
// restarts), a full comparison of a journal with its sim's ledger, and the
// orphan check. For the test thread only (they report through Catch2).
#pragma once

#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

namespace wabridge::test {

/// account_path(account, "/messages?limit=N&consumer=C").
std::string messages_path(const std::string& account, const std::string& consumer, int limit);

// A client that acks explicitly, checking on every page what SPEC §6 promises
// it: pages start right after its acked seq (acked events never come back,
// nothing is skipped), a seq always names the same event, and after a restart
// the delivered-but-unacked tail comes back first.
class explicit_consumer {
 public:
  explicit_consumer(std::string account, std::string name)
      : account_(std::move(account)), name_(std::move(name)) {}

  /// Polls one page and acks the first `fraction` of it; returns its size.
  size_t step(const http_client& client, double fraction, int limit = 500) {
    if (!switched_to_explicit_) {
      ack_to(client, 0);  // from now on a poll never acks implicitly
      switched_to_explicit_ = true;
    }
    json page = client.get_json(messages_path(account_, name_, limit));
    REQUIRE(page.is_array());
    if (page.empty()) return 0;
    const uint64_t first = page.front().at("seq").get<uint64_t>();
    INFO("consumer " << name_ << " acked " << acked_ << ", page starts at " << first);
    REQUIRE(first == acked_ + 1);
    size_t replayed = 0;
    // Plain ifs rather than an assertion per event: a page holds hundreds.
    for (size_t k = 0; k < page.size(); ++k) {
      const uint64_t seq = page[k].at("seq").get<uint64_t>();
      const std::string uid = page[k].at("eventUid").get<std::string>();
      if (seq != first + k) FAIL("gap in the page: seq " << seq << " at position " << k);
      auto known = delivered_.find(seq);
      if (known != delivered_.end()) {
        if (known->second != uid)
          FAIL("seq " << seq << " was " << known->second << " and is now " << uid);
        ++replayed;
      } else {
        if (!uids_.insert(uid).second)
          FAIL("uid " << uid << " delivered again under a new seq " << seq);
        delivered_.emplace(seq, uid);
      }
    }
    if (after_restart_) {
      // Everything delivered but not acked before the crash comes back first.
      CHECK(replayed == std::min<uint64_t>(unacked_at_restart_, page.size()));
      replayed_after_restarts_ += replayed;
      after_restart_ = false;
    }
    const auto n = static_cast<uint64_t>(static_cast<double>(page.size()) * fraction);
    if (n > 0) ack_to(client, first + n - 1);
    return page.size();
  }

  /// The bridge was restarted (or killed): the next page is checked for replay.
  void restarted() {
    after_restart_ = true;
    const uint64_t newest = delivered_.empty() ? 0 : delivered_.rbegin()->first;
    unacked_at_restart_ = newest - acked_;
  }

  uint64_t acked() const { return acked_; }
  size_t distinct() const { return uids_.size(); }
  uint64_t replayed_after_restarts() const { return replayed_after_restarts_; }

 private:
  void ack_to(const http_client& client, uint64_t seq) {
    auto reply = client.post(account_path(account_, "/ack"),
                             json{{"up_to_seq", seq}, {"consumer", name_}}.dump());
    INFO("ack " << seq << " -> " << reply.status << " " << reply.error << " " << reply.body);
    REQUIRE(reply.status == 200);
    REQUIRE(uint_field(reply.body_json(), "acked_seq") == std::max(seq, acked_));
    acked_ = std::max(seq, acked_);
  }

  std::string account_;
  std::string name_;
  bool switched_to_explicit_ = false;
  uint64_t acked_ = 0;
  std::map<uint64_t, std::string> delivered_;  // seq -> eventUid, all ever delivered
  std::set<std::string> uids_;
  bool after_restart_ = false;
  uint64_t unacked_at_restart_ = 0;
  uint64_t replayed_after_restarts_ = 0;
};

// A client like the stock Node one: polls, never acks. In normal operation it
// sees each event once; across a restart it may see the last page again, but
// must never skip anything.
class implicit_consumer {
 public:
  implicit_consumer(std::string account, std::string name)
      : account_(std::move(account)), name_(std::move(name)) {}

  size_t step(const http_client& client, int limit = 300) {
    json page = client.get_json(messages_path(account_, name_, limit));
    REQUIRE(page.is_array());
    if (page.empty()) return 0;
    const uint64_t first = page.front().at("seq").get<uint64_t>();
    INFO("implicit consumer " << name_ << ": newest seen " << newest_ << ", page starts at "
                              << first);
    if (after_restart_) {
      REQUIRE(first <= newest_ + 1);  // a replay is allowed, a gap is not
      after_restart_ = false;
    } else {
      REQUIRE(first == newest_ + 1);  // no restart: exactly once
    }
    for (size_t k = 0; k < page.size(); ++k) {
      if (page[k].at("seq").get<uint64_t>() != first + k) FAIL("gap in the page at position " << k);
      ++seen_[page[k].at("eventUid").get<std::string>()];
    }
    newest_ = std::max(newest_, page.back().at("seq").get<uint64_t>());
    return page.size();
  }

  void restarted() { after_restart_ = true; }
  size_t distinct() const { return seen_.size(); }
  uint64_t duplicates() const {
    uint64_t n = 0;
    for (const auto& [uid, count] : seen_) n += static_cast<uint64_t>(count - 1);
    return n;
  }

 private:
  std::string account_;
  std::string name_;
  uint64_t newest_ = 0;
  bool after_restart_ = false;
  std::map<std::string, int> seen_;
};

struct journal_summary {
  uint64_t events = 0;
  uint64_t live = 0;
  uint64_t offline = 0;
  std::map<uint64_t, std::string> origin_of_index;  // sim index -> origin
};

// Reads the whole journal of `acc` over HTTP and checks it against the sim's
// ledger: seqs contiguous, one entry per eventUid, each uid really the sim's
// event of that index, and every index the ledger counts as confirmed present.
journal_summary verify_journal(const running_bridge& bridge, const sim_account& acc,
                               const std::string& fresh_consumer);

// Waits until the sim of every account has generated its `total` and seen it
// all confirmed, consuming with `each_round` meanwhile.
template <class Round>
void run_to_completion(const running_bridge& bridge, Round each_round,
                       std::chrono::milliseconds deadline) {
  auto done = [&] {
    for (const auto& acc : bridge.options.accounts) {
      const auto ledger = read_ledger_or_fail(bridge.data_dir(), acc.name);
      if (ledger.generated < acc.total || ledger.confirmed_count() < acc.total) return false;
    }
    return true;
  };
  const bool finished = eventually(
      [&] {
        const bool sims_done = done();  // before the round: the round then sees their events
        return each_round() && sims_done;
      },
      deadline, 20ms);
  if (!finished) {
    std::string state;
    for (const auto& acc : bridge.options.accounts) {
      const auto ledger = read_ledger_or_fail(bridge.data_dir(), acc.name);
      state += acc.name + ": generated " + std::to_string(ledger.generated) + " confirmed " +
               std::to_string(ledger.confirmed_count()) + " of " + std::to_string(acc.total) + "; ";
    }
    FAIL("the stream did not complete before the deadline: " << state << "\nlog:\n"
                                                             << log_tail(bridge.process.log()));
  }
}

/// Fails the test when processes of the bridge's group survive 10 s.
void require_no_orphans(bridge_process& process);

}  // namespace wabridge::test
