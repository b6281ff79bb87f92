#include "actors/outbound_sender.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace wabridge {
namespace {

// Journal requests are local and fast; this only bounds a wedged journal.
constexpr auto journal_timeout = std::chrono::seconds(30);

std::string seconds_text(millis d) {
  return std::to_string(d.count() / 1000) + "." + std::to_string((d.count() % 1000) / 100) + "s";
}

}  // namespace

outbound_sender::outbound_sender(std::string account, outbound_config cfg)
    : account_(std::move(account)), cfg_(cfg) {}

void outbound_sender::attach(session_actor::pointer self, journal_actor journal, write_fn write) {
  self_ = self;
  journal_ = std::move(journal);
  write_ = std::move(write);
}

void outbound_sender::set_connected(bool connected) {
  if (connected_ == connected) return;
  connected_ = connected;
  if (!connected_) return;
  // A send claimed (or between chunks) while the link was down goes on now.
  if (current_ && current_->wire_id.empty() && !current_->journal_pending)
    send_part();
  else
    pump();
}

void outbound_sender::kick() {
  pump();
}

void outbound_sender::pause(std::function<void()> on_idle) {
  paused_ = true;
  on_idle_ = std::move(on_idle);
  check_idle();
}

bool outbound_sender::busy() const {
  return claiming_ || (current_ && (!current_->wire_id.empty() || current_->journal_pending));
}

void outbound_sender::check_idle() {
  if (!paused_ || busy() || !on_idle_) return;
  auto callback = std::move(on_idle_);
  on_idle_ = nullptr;
  callback();
}

// Takes the next send from the outbox when nothing is in progress.
void outbound_sender::pump() {
  if (paused_ || claiming_ || current_ || !connected_ || !self_) return;
  claiming_ = true;
  self_->request(journal_, journal_timeout, claim_atom::value)
      .then(
          [this](outbox_claimed& claimed) {
            claiming_ = false;
            log_given_up(claimed.given_up);
            if (!claimed.record) {
              check_idle();
              return;
            }
            current_send send;
            send.record = std::move(*claimed.record);
            send.part = send.record.parts_done;
            if (send.record.attempts > 1) {
              ++counters_.resumed;
              spdlog::warn(
                  "outbound account={} resuming id={} attempt={} part={}/{} (the previous "
                  "attempt ended without an answer; same message ids)",
                  account_, send.record.id, send.record.attempts, send.part + 1,
                  send.record.parts.size());
            }
            current_ = std::move(send);
            counters_.in_flight_id = current_->record.id;
            if (paused_) {
              // Draining: it stays `sending` and the next worker resumes it.
              current_.reset();
              counters_.in_flight_id = 0;
              check_idle();
              return;
            }
            if (connected_) send_part();
          },
          [this](caf::error& err) {
            claiming_ = false;
            spdlog::warn("outbound account={} cannot take the next send error=\"{}\"", account_,
                         describe(err));
            check_idle();
          });
}

void outbound_sender::log_given_up(const std::vector<store::outbox_record>& records) {
  for (const auto& record : records) {
    ++counters_.unknown;
    spdlog::error("outbound account={} gave up id={} op={} state=unknown error=\"{}\"", account_,
                  record.id, record.op, record.error);
  }
}

void outbound_sender::send_part() {
  auto& send = *current_;
  if (send.part >= send.record.parts.size()) {
    finish(store::send_state::sent, {});
    return;
  }
  const auto& part = send.record.parts[send.part];
  upstream::send_msg msg;
  msg.id = "o" + std::to_string(send.record.id) + "." + std::to_string(send.part) + ".a" +
           std::to_string(send.record.attempts);
  msg.op = part.op;
  msg.message_id = part.message_id;
  msg.args = nlohmann::json::parse(part.args, nullptr, false);
  if (msg.args.is_discarded()) msg.args = nlohmann::json::object();
  if (auto err = write_(upstream::format_send(msg) + "\n")) {
    // The upstream is going away; its EOF makes us try again later.
    spdlog::warn("outbound account={} id={} not written error=\"{}\"", account_, send.record.id,
                 describe(err));
    return;
  }
  send.wire_id = msg.id;
  send.token = next_token_++;
  self_->delayed_send(self_, cfg_.send_timeout, timeout_atom::value, send.token);
}

bool outbound_sender::on_result(const upstream::send_result_msg& result) {
  if (current_ && !current_->wire_id.empty() && result.id == current_->wire_id) {
    part_answered(result);
    return true;
  }
  auto it = direct_.find(result.id);
  if (it == direct_.end()) return false;
  direct_result out;
  out.ok = result.ok;
  out.message_ids = result.message_ids;
  out.error = result.error;
  if (!result.data.is_null()) out.data = result.data.dump();
  it->second.promise.deliver(std::move(out));
  direct_.erase(it);
  return true;
}

void outbound_sender::part_answered(const upstream::send_result_msg& result) {
  auto& send = *current_;
  send.wire_id.clear();
  if (!result.ok) {
    spdlog::warn("outbound account={} send failed id={} op={} part={}/{} error=\"{}\"", account_,
                 send.record.id, send.record.op, send.part + 1, send.record.parts.size(),
                 result.error);
    finish(store::send_state::failed,
           result.error.empty() ? "the upstream refused the send" : result.error);
    return;
  }
  outbox_part_sent progress;
  progress.id = send.record.id;
  progress.part = send.part;
  progress.message_ids = result.message_ids;
  if (!result.data.is_null()) progress.data = result.data.dump();
  send.journal_pending = true;
  self_->request(journal_, journal_timeout, std::move(progress))
      .then(
          [this](store::outbox_record& record) {
            auto& s = *current_;
            s.journal_pending = false;
            s.record = std::move(record);
            s.part = s.record.parts_done;
            if (s.part >= s.record.parts.size()) {
              finish(store::send_state::sent, {});
            } else if (cfg_.chunk_delay.count() == 0) {
              if (connected_) send_part();
            } else {
              s.token = next_token_++;
              self_->delayed_send(self_, cfg_.chunk_delay, part_atom::value, s.token);
            }
            check_idle();
          },
          [this](caf::error& err) {
            // The journal could not record it: the send stays `sending` and
            // is resumed at this part (same message id) by a later claim.
            spdlog::error("outbound account={} id={} progress not recorded error=\"{}\"", account_,
                          current_->record.id, describe(err));
            done();
          });
}

void outbound_sender::on_part_due(uint64_t token) {
  if (!current_ || current_->token != token || !current_->wire_id.empty() ||
      current_->journal_pending)
    return;
  if (paused_) {
    // Draining between chunks: the rest goes out from the next worker.
    done();
    return;
  }
  if (connected_) send_part();  // else set_connected(true) sends it
}

void outbound_sender::on_timeout(uint64_t token) {
  if (current_ && !current_->wire_id.empty() && current_->token == token) {
    current_->wire_id.clear();
    spdlog::warn("outbound account={} send timed out id={} op={} part={}/{} after {}", account_,
                 current_->record.id, current_->record.op, current_->part + 1,
                 current_->record.parts.size(), seconds_text(cfg_.send_timeout));
    finish(store::send_state::unknown, "no answer from the upstream within " +
                                           seconds_text(cfg_.send_timeout) +
                                           "; the message may or may not have been sent");
    return;
  }
  for (auto it = direct_.begin(); it != direct_.end(); ++it) {
    if (it->second.token != token) continue;
    it->second.promise.deliver(make_error(
        errc::timeout, "no answer from the upstream within " + seconds_text(cfg_.send_timeout)));
    direct_.erase(it);
    return;
  }
}

void outbound_sender::finish(store::send_state state, const std::string& error) {
  auto& send = *current_;
  send.journal_pending = true;
  self_->request(journal_, journal_timeout, outbox_finish{send.record.id, state, error})
      .then(
          [this, state](store::outbox_record& record) {
            if (state == store::send_state::sent) ++counters_.sent;
            if (state == store::send_state::failed) ++counters_.failed;
            if (state == store::send_state::unknown) ++counters_.unknown;
            spdlog::debug("outbound account={} id={} op={} state={} parts={} attempts={}", account_,
                          record.id, record.op, store::to_string(record.state), record.parts.size(),
                          record.attempts);
            done();
          },
          [this](caf::error& err) {
            spdlog::error("outbound account={} id={} result not recorded error=\"{}\"", account_,
                          current_->record.id, describe(err));
            done();
          });
}

// The current send is over (or handed back to the outbox): take the next.
void outbound_sender::done() {
  current_.reset();
  counters_.in_flight_id = 0;
  check_idle();
  pump();
}

caf::typed_response_promise<direct_result> outbound_sender::direct(const direct_command& command) {
  auto promise = self_->make_response_promise<direct_result>();
  if (!connected_) {
    promise.deliver(make_error(errc::upstream_unavailable,
                               "account \"" + account_ + "\" is not connected to WhatsApp"));
    return promise;
  }
  upstream::send_msg msg;
  msg.id = "d" + std::to_string(next_direct_++);
  msg.op = command.op;
  msg.args = nlohmann::json::parse(command.args, nullptr, false);
  if (msg.args.is_discarded()) msg.args = nlohmann::json::object();
  if (auto err = write_(upstream::format_send(msg) + "\n")) {
    promise.deliver(make_error(errc::upstream_unavailable, "upstream not reachable"));
    return promise;
  }
  const uint64_t token = next_token_++;
  direct_.emplace(msg.id, pending_direct{promise, token});
  self_->delayed_send(self_, cfg_.send_timeout, timeout_atom::value, token);
  return promise;
}

void outbound_sender::upstream_gone() {
  connected_ = false;
  for (auto& [id, pending] : direct_)
    pending.promise.deliver(
        make_error(errc::upstream_unavailable, "the upstream exited before it answered"));
  direct_.clear();
  if (current_ && !current_->wire_id.empty()) {
    // Written, never answered: it stays `sending` and is resumed (attempt + 1).
    spdlog::warn("outbound account={} upstream exited with id={} part={}/{} unanswered", account_,
                 current_->record.id, current_->part + 1, current_->record.parts.size());
    current_->wire_id.clear();
    if (!current_->journal_pending) done();
  }
}

}  // namespace wabridge
