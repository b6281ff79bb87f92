#include "actors/http_front_end.hpp"

#include "actors/drainable_server.hpp"

#include "actors/account_client.hpp"
#include "actors/account_supervisor.hpp"
#include "actors/http_outbound.hpp"
#include "actors/http_replies.hpp"
#include "common/qr_text.hpp"
#include "common/version.hpp"
#include "supervisor/listen_socket.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>

namespace wabridge {
namespace {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr const char* default_consumer = "default";

// Constant-time comparison so a token cannot be guessed byte by byte from timing.
bool tokens_equal(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
         host.rfind("127.", 0) == 0;
}

// "localhost:3000" -> "localhost", "[::1]:3000" -> "[::1]"
std::string host_without_port(std::string host) {
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(':') == colon) return host.substr(0, colon);
  return host;
}

bool valid_consumer(const std::string& c) {
  if (c.empty() || c.size() > 64) return false;
  return std::all_of(c.begin(), c.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
  });
}

// Strict unsigned parse: digits only, no sign, no overflow.
std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Seconds, possibly fractional ("2", "0.5"), to milliseconds.
std::optional<int64_t> parse_seconds_ms(const std::string& s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  size_t dots = 0;
  for (char c : s) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return std::nullopt;
  }
  if (dots > 1 || s == ".") return std::nullopt;
  const double v = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  return static_cast<int64_t>(v * 1000.0);
}

json journal_json(const journal_stats& j) {
  return json{{"firstSeq", j.first_seq}, {"lastSeq", j.last_seq},      {"events", j.event_count},
              {"mapSize", j.map_size},   {"usedBytes", j.used_bytes},  {"commits", j.commits},
              {"appended", j.appended},  {"duplicates", j.duplicates}, {"compacted", j.compacted},
              {"waiters", j.waiters},    {"degraded", j.degraded},     {"lastError", j.last_error}};
}

json session_json(const session_status& s) {
  return json{
      {"kind", s.upstream},
      {"state", s.state},
      {"reason", s.reason},
      {"pid", s.pid},
      {"restarts", s.restarts},
      {"stateSinceMs", s.state_since_ms},
      {"lastExit", s.last_exit},
      {"eventsReceived", s.events_received},
      {"eventsConfirmed", s.events_confirmed},
      {"linesRejected", s.lines_rejected},
      {"inFlight", s.in_flight},
      {"lastError", s.last_error},
      {"confirmLatencyUs",
       json{{"p50", s.confirm_p50_us}, {"p99", s.confirm_p99_us}, {"max", s.confirm_max_us}}},
      {"qr", s.qr.empty() ? json(nullptr) : json(s.qr)},
      {"pairingCode", s.pairing_code.empty() ? json(nullptr) : json(s.pairing_code)},
      {"sends",
       json{{"sent", s.sends_sent},
            {"failed", s.sends_failed},
            {"unknown", s.sends_unknown},
            {"resumed", s.sends_resumed},
            {"inFlightId", s.send_in_flight_id == 0 ? json(nullptr) : json(s.send_in_flight_id)}}}};
}

json outbox_json(const journal_stats& j) {
  return json{{"queued", j.outbox.queued},   {"sending", j.outbox.sending},
              {"sent", j.outbox.sent},       {"failed", j.outbox.failed},
              {"unknown", j.outbox.unknown}, {"lastId", j.outbox_last_id}};
}

// The account supervisor's view: is the account running, restarting or failed, and why.
json supervision_json(const account_handles& h) {
  return json{{"state", h.state}, {"reason", h.reason}, {"restarts", h.restarts}};
}

}  // namespace

class http_front_end::impl {
 public:
  impl(caf::actor_system& sys, bridge_config cfg, std::map<std::string, account_actors> accounts)
      : sys_(sys),
        cfg_(std::move(cfg)),
        accounts_(std::move(accounts)),
        started_(clock_type::now()) {
    loopback_only_ = is_loopback_host(host_without_port(cfg_.bridge.listen_host));
    configure();
  }

  caf::expected<int> bind(int listen_fd) {
    if (listen_fd >= 0) {
      if (!supervisor::is_listening_socket(listen_fd))
        return make_error(errc::invalid_argument,
                          "fd " + std::to_string(listen_fd) + " is not a listening socket");
      server_.adopt(listen_fd);
      return static_cast<int>(supervisor::bound_port(listen_fd));
    }
    std::string host = cfg_.bridge.listen_host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (cfg_.bridge.listen_port == 0) {
      int port = server_.bind_to_any_port(host);
      if (port <= 0) return make_error(errc::io_failure, "cannot bind " + cfg_.bridge.listen);
      return port;
    }
    if (!server_.bind_to_port(host, cfg_.bridge.listen_port))
      return make_error(errc::io_failure, "cannot bind " + cfg_.bridge.listen);
    return static_cast<int>(cfg_.bridge.listen_port);
  }

  void serve() { server_.listen_after_bind(); }
  void begin_drain() { draining_ = true; }
  void stop() { server_.stop_accepting(); }

 private:
  struct account_view {
    session_status session;
    journal_stats journal;
    ack_stats acks;
  };

  // The account's current handles from its supervisor; also updates the cache.
  caf::expected<account_handles> refresh(const account_actors& acc) {
    return refresh_handles(sys_, acc, actor_timeout);
  }

  template <class Reply, class Handle, class Msg>
  caf::expected<Reply> call(const account_actors& acc, Handle account_handles::*member,
                            const Msg& msg, std::chrono::milliseconds timeout = actor_timeout,
                            Handle* used = nullptr) {
    return call_account<Reply>(sys_, acc, member, msg, timeout, used);
  }

  caf::expected<account_view> view(const account_actors& acc) {
    account_view v;
    auto session = call<session_status>(acc, &account_handles::session, stats_atom::value);
    if (!session) return session.error();
    auto journal = call<journal_stats>(acc, &account_handles::journal, stats_atom::value);
    if (!journal) return journal.error();
    auto acks = call<ack_stats>(acc, &account_handles::acks, stats_atom::value);
    if (!acks) return acks.error();
    v.session = std::move(*session);
    v.journal = std::move(*journal);
    v.acks = std::move(*acks);
    return v;
  }

  double uptime_seconds() const {
    return std::chrono::duration<double>(clock_type::now() - started_).count();
  }

  // Host check and account/token resolution shared by every route. Returns
  // the account, or nullptr after writing the error response.
  const account_actors* admit(const httplib::Request& req, httplib::Response& res,
                              const std::string& account_name) {
    if (loopback_only_) {
      // DNS rebinding defence: a loopback-bound bridge answers only to loopback names.
      if (!req.has_header("Host")) {
        send_error(res, 400, "missing Host header");
        return nullptr;
      }
      if (!is_loopback_host(host_without_port(req.get_header_value("Host")))) {
        send_error(res, 403, "Host header must name a loopback address when bound to loopback");
        return nullptr;
      }
    }
    const std::string& name = account_name.empty() ? cfg_.bridge.default_account : account_name;
    auto it = accounts_.find(name);
    if (it == accounts_.end()) {
      send_error(res, 404, "unknown account \"" + name + "\"");
      return nullptr;
    }
    if (!authorized(req, it->second)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "missing or wrong bearer token for account \"" + name + "\"");
      return nullptr;
    }
    return &it->second;
  }

  // True when the account has no token or the request carries it.
  static bool authorized(const httplib::Request& req, const account_actors& acc) {
    const std::string& token = acc.config.token;
    if (token.empty()) return true;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    return auth.compare(0, prefix.size(), prefix) == 0 &&
           tokens_equal(auth.substr(prefix.size()), token);
  }

  using endpoint = void (impl::*)(const account_actors&, const httplib::Request&,
                                  httplib::Response&);

  // Registers `handler` at /path and /accounts/{name}/path, behind admit().
  void route(const char* method, const std::string& path, http_outbound::handler handler) {
    const std::string pattern = "^(?:/accounts/([^/]+))?" + path + "$";
    auto wrapped = [this, handler = std::move(handler)](const httplib::Request& req,
                                                        httplib::Response& res) {
      const std::string name = req.matches.size() > 1 ? req.matches[1].str() : std::string{};
      if (const auto* acc = admit(req, res, name)) handler(*acc, req, res);
    };
    if (std::string(method) == "GET")
      server_.Get(pattern, wrapped);
    else
      server_.Post(pattern, wrapped);
  }

  void route(const char* method, const std::string& path, endpoint handler) {
    route(method, path,
          [this, handler](const account_actors& acc, const httplib::Request& req,
                          httplib::Response& res) { (this->*handler)(acc, req, res); });
  }

  void configure() {
    const auto& http = cfg_.http;
    server_.set_payload_max_length(http.max_body_bytes);
    server_.set_read_timeout(std::chrono::milliseconds(http.read_timeout));
    server_.set_write_timeout(std::chrono::milliseconds(http.write_timeout));
    server_.set_keep_alive_max_count(100);
    // Headers and a streamed body go out in separate writes: without
    // TCP_NODELAY, Nagle plus the client's delayed ACK adds ~40 ms per poll.
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_timeout(5);
    server_.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          spdlog::error("http handler failed path={} error=\"{}\"", req.path, what);
          send_error(res, 500, "internal error: " + what);
        });
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        send_error(res, 404, "no such endpoint");
      else if (res.status == 413)
        send_error(res, 413, "request body too large");
      else if (res.status == 400)
        send_error(res, 400, "malformed request");
      else
        send_error(res, res.status, "HTTP " + std::to_string(res.status));
    });

    route("GET", "/health", &impl::health);
    route("GET", "/messages", &impl::messages);
    route("POST", "/ack", &impl::ack);
    route("GET", "/status", &impl::status);
    route("GET", "/metrics", &impl::metrics);
    route("GET", "/pairing", &impl::pairing);
    route("POST", "/pairing", &impl::pairing);
    outbound_.register_routes(
        [this](const char* method, const std::string& path, http_outbound::handler handler) {
          route(method, path, std::move(handler));
        });
  }

  std::string consumer_param(const httplib::Request& req, httplib::Response& res) {
    std::string consumer =
        req.has_param("consumer") ? req.get_param_value("consumer") : default_consumer;
    if (!valid_consumer(consumer)) {
      send_error(res, 400, "consumer must be 1-64 characters of [A-Za-z0-9_.-]");
      return {};
    }
    return consumer;
  }

  void health(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    const std::string consumer = consumer_param(req, res);
    if (consumer.empty()) return;
    // Fresh from the supervisor: the cache alone would keep showing a
    // restart that is long over.
    if (auto fresh = refresh(acc); !fresh) return send_error(res, fresh.error());
    auto v = view(acc);
    const auto supervision = acc.cache->get();
    if (!v && account_down(v.error())) {
      // The account's actors are (partly) down. Still 200, as the Node
      // bridge's clients expect; what the journal would say is unknown.
      json body{{"status", "disconnected"},
                {"queueLength", 0},
                {"uptime", uptime_seconds()},
                {"account", acc.config.name},
                {"consumer", consumer},
                {"upstreamState", supervision->state},
                {"healthy", false},
                {"journalDegraded", false},
                {"lastSeq", nullptr},
                {"ackedSeq", nullptr},
                {"version", version},
                {"workerPid", static_cast<int64_t>(::getpid())},
                {"supervision", supervision_json(*supervision)},
                {"error", describe(v.error())}};
      return send_json(res, 200, body);
    }
    if (!v) return send_error(res, v.error());
    uint64_t acked = 0;
    for (const auto& c : v->acks.consumers)
      if (c.name == consumer) acked = c.acked_seq;
    const bool connected = v->session.state == "connected";
    const bool healthy = connected && !v->journal.degraded && supervision->state == "running";
    json body{{"status", connected ? "connected" : "disconnected"},
              {"queueLength", v->journal.last_seq - std::min(acked, v->journal.last_seq)},
              {"uptime", uptime_seconds()},
              {"account", acc.config.name},
              {"consumer", consumer},
              {"upstreamState", v->session.state},
              {"healthy", healthy},
              {"journalDegraded", v->journal.degraded},
              {"lastSeq", v->journal.last_seq},
              {"ackedSeq", acked},
              {"version", version},
              {"workerPid", static_cast<int64_t>(::getpid())},
              {"supervision", supervision_json(*supervision)}};
    if (!v->journal.last_error.empty()) body["journalError"] = v->journal.last_error;
    send_json(res, 200, body);
  }

  void messages(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    poll_request poll;
    poll.consumer = consumer_param(req, res);
    if (poll.consumer.empty()) return;
    const std::string consumer = poll.consumer;
    // The previous page's delivered notice first, or this poll would not
    // ack it implicitly and the client would see that page twice.
    const std::string delivery_key = acc.config.name + '/' + consumer;
    await_deliveries(delivery_key);
    poll.limit = 100;
    if (req.has_param("limit")) {
      auto limit = parse_u64(req.get_param_value("limit"));
      if (!limit || *limit == 0) return send_error(res, 400, "limit must be a positive integer");
      poll.limit = static_cast<uint32_t>(std::min<uint64_t>(*limit, cfg_.http.max_limit));
    }
    if (req.has_param("wait")) {
      auto wait = parse_seconds_ms(req.get_param_value("wait"));
      if (!wait) return send_error(res, 400, "wait must be a non-negative number of seconds");
      poll.wait_ms = std::min<int64_t>(*wait, cfg_.http.max_wait.count());
    }
    const auto timeout = std::chrono::milliseconds(poll.wait_ms) + actor_timeout;
    ack_tracker_actor acks;  // the incarnation that served the page gets the delivered notice
    auto page = call<event_page>(acc, &account_handles::acks, poll, timeout, &acks);
    if (!page) return send_error(res, page.error());
    std::string body;
    size_t total = 2;
    for (const auto& e : page->events) total += e.size() + 1;
    body.reserve(total);
    body += '[';
    for (size_t i = 0; i < page->events.size(); ++i) {
      if (i > 0) body += ',';
      body += page->events[i];
    }
    body += ']';
    res.set_header("X-Wabridge-Newest-Seq", std::to_string(page->newest_seq));
    res.status = 200;
    if (draining_) {
      // httplib abandons streamed bodies once stopped; a plain body is
      // written whole. Not counted as delivered: it comes again after restart.
      res.set_content(std::move(body), "application/json");
      return;
    }
    // A content provider lets us learn whether the page was written out in
    // full; only then does it count as delivered for implicit acks.
    auto shared_body = std::make_shared<std::string>(std::move(body));
    const size_t length = shared_body->size();
    const uint64_t last_seq = page->last_seq;
    begin_delivery(delivery_key);  // before the first byte can reach the client
    res.set_content_provider(
        length, "application/json",
        [shared_body](size_t offset, size_t chunk, httplib::DataSink& sink) {
          return sink.write(shared_body->data() + offset,
                            std::min(chunk, shared_body->size() - offset));
        },
        // httplib calls this exactly once, also when the write failed.
        [this, acks, consumer, last_seq, delivery_key](bool success) {
          if (success && last_seq > 0) {
            caf::scoped_actor self{sys_};
            self->request(acks, actor_timeout, delivered_notice{consumer, last_seq})
                .receive([](uint64_t) {}, [](caf::error&) {});
          }
          end_delivery(delivery_key);
        });
  }

  // Deliveries in flight per account/consumer: a page whose delivered notice
  // has not reached the ack tracker yet. A client can only poll again after
  // it has the whole page, and begin_delivery() ran before its first byte, so
  // waiting here orders the notice before the next poll.
  void begin_delivery(const std::string& key) {
    std::lock_guard<std::mutex> lock(deliveries_mutex_);
    ++deliveries_[key];
  }
  void end_delivery(const std::string& key) {
    {
      std::lock_guard<std::mutex> lock(deliveries_mutex_);
      auto it = deliveries_.find(key);
      if (it != deliveries_.end() && --it->second == 0) deliveries_.erase(it);
    }
    deliveries_done_.notify_all();
  }
  void await_deliveries(const std::string& key) {
    std::unique_lock<std::mutex> lock(deliveries_mutex_);
    // Bounded: a stuck notice must not stall the consumer for good (it then
    // sees that page again, which implicit mode allows after trouble).
    deliveries_done_.wait_for(lock, actor_timeout,
                              [&] { return deliveries_.find(key) == deliveries_.end(); });
  }

  void ack(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return send_error(res, 400, "body must be a JSON object like {\"up_to_seq\": 42}");
    auto seq = body.find("up_to_seq");
    if (seq == body.end() || !seq->is_number_unsigned())
      return send_error(res, 400, "up_to_seq must be a non-negative integer");
    ack_request ackreq;
    ackreq.up_to_seq = seq->get<uint64_t>();
    if (auto c = body.find("consumer"); c != body.end()) {
      if (!c->is_string() || !valid_consumer(c->get<std::string>()))
        return send_error(res, 400, "consumer must be 1-64 characters of [A-Za-z0-9_.-]");
      ackreq.consumer = c->get<std::string>();
    } else {
      ackreq.consumer = consumer_param(req, res);
      if (ackreq.consumer.empty()) return;
    }
    auto reply = call<ack_reply>(acc, &account_handles::acks, ackreq);
    if (!reply) return send_error(res, reply.error());
    send_json(res, 200, json{{"consumer", reply->consumer}, {"acked_seq", reply->acked_seq}});
  }

  json account_json(const account_actors& acc, const account_view& v) {
    json consumers = json::array();
    for (const auto& c : v.acks.consumers) {
      consumers.push_back(
          json{{"name", c.name},
               {"ackedSeq", c.acked_seq},
               {"deliveredSeq", c.delivered_seq},
               {"explicitAcks", c.explicit_acks},
               {"unacked", v.journal.last_seq - std::min(c.acked_seq, v.journal.last_seq)}});
    }
    const int64_t oldest = v.journal.oldest_unacked_ms;
    return json{{"name", acc.config.name},
                {"upstream", session_json(v.session)},
                {"journal", journal_json(v.journal)},
                {"outbox", outbox_json(v.journal)},
                {"consumers", consumers},
                {"ackedFloor", v.acks.acked_floor},
                {"unacked", v.journal.last_seq - std::min(v.acks.acked_floor, v.journal.last_seq)},
                {"oldestUnackedAgeMs", oldest < 0 ? json(nullptr) : json(now_ms() - oldest)}};
  }

  // GET /pairing: where pairing of a Baileys account stands, with the QR
  // payload while one is shown (?format=text draws it for a terminal).
  // POST /pairing: the same, after starting pairing afresh if the account
  // is logged out (docs/sidecar.md, "Pairing").
  void pairing(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    if (acc.config.upstream != upstream_kind::baileys)
      return send_error(res, 409,
                        "account \"" + acc.config.name +
                            "\" uses the simulated upstream: there is nothing to pair");
    const bool text = req.has_param("format") && req.get_param_value("format") == "text";
    if (req.has_param("format") && !text) return send_error(res, 400, "format must be \"text\"");
    auto s = req.method == "POST"
                 ? call<session_status>(acc, &account_handles::session, pair_atom::value)
                 : call<session_status>(acc, &account_handles::session, stats_atom::value);
    if (!s) return send_error(res, s.error());
    if (!text) {
      return send_json(
          res, 200,
          json{{"account", acc.config.name},
               {"state", s->state},
               {"reason", s->reason},
               {"linked", s->state == "connected"},
               {"qr", s->qr.empty() || s->state != "qr" ? json(nullptr) : json(s->qr)},
               {"pairingCode", s->pairing_code.empty() ? json(nullptr) : json(s->pairing_code)}});
    }
    std::string body = "account " + acc.config.name + ": " + s->state;
    if (!s->reason.empty()) body += " (" + s->reason + ")";
    body += '\n';
    if (s->state == "qr" && !s->qr.empty()) {
      auto drawn = render_qr_text(s->qr);
      if (!drawn) return send_error(res, drawn.error());
      body += *drawn;
      body += "Scan it with WhatsApp on the phone: Settings > Linked devices > Link a device.\n";
    }
    if (!s->pairing_code.empty())
      body += "Or choose \"Link with phone number instead\" and enter the code " + s->pairing_code +
              "\n";
    res.status = 200;
    res.set_content(body, "text/plain; charset=utf-8");
  }

  void status(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    const bool all = req.matches.size() < 2 || req.matches[1].str().empty();
    json accounts = json::array();
    for (const auto& [name, a] : accounts_) {
      if (!all && name != acc.config.name) continue;
      if (!authorized(req, a)) {
        // The bare listing names every account, but an account's detail
        // (consumers, QR code, counters) needs that account's token.
        accounts.push_back(
            json{{"name", name}, {"error", "unauthorized: needs this account's token"}});
        continue;
      }
      if (auto fresh = refresh(a); !fresh) {
        accounts.push_back(json{{"name", name}, {"error", describe(fresh.error())}});
        continue;
      }
      auto v = view(a);
      const auto supervision = supervision_json(*a.cache->get());
      if (!v) {
        accounts.push_back(
            json{{"name", name}, {"error", describe(v.error())}, {"supervision", supervision}});
        continue;
      }
      json entry = account_json(a, *v);
      entry["supervision"] = supervision;
      accounts.push_back(std::move(entry));
    }
    send_json(res, 200,
              json{{"version", version},
                   {"pid", static_cast<int64_t>(::getpid())},
                   {"uptime", uptime_seconds()},
                   {"listen", cfg_.bridge.listen},
                   {"defaultAccount", cfg_.bridge.default_account},
                   {"accounts", accounts}});
  }

  void metrics(const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
    const bool all = req.matches.size() < 2 || req.matches[1].str().empty();
    std::ostringstream out;
    auto family = [&](const char* name, const char* type, const char* help) {
      out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    std::vector<std::pair<std::string, account_view>> views;
    for (const auto& [name, a] : accounts_) {
      if (!all && name != acc.config.name) continue;
      if (!authorized(req, a)) continue;  // see status(): detail needs the account's token
      if (auto v = view(a)) views.emplace_back(name, std::move(*v));
    }
    family("wabridge_uptime_seconds", "gauge", "Seconds since this worker started.");
    out << "wabridge_uptime_seconds " << uptime_seconds() << '\n';
    struct metric {
      const char* name;
      const char* type;
      const char* help;
      std::function<double(const account_view&)> value;
    };
    const metric per_account[] = {
        {"wabridge_upstream_connected", "gauge", "1 when the upstream reports connected.",
         [](const account_view& v) { return v.session.state == "connected" ? 1.0 : 0.0; }},
        {"wabridge_upstream_restarts_total", "counter", "Upstream process restarts.",
         [](const account_view& v) { return double(v.session.restarts); }},
        {"wabridge_upstream_events_received_total", "counter",
         "Event lines read from the upstream.",
         [](const account_view& v) { return double(v.session.events_received); }},
        {"wabridge_upstream_events_confirmed_total", "counter", "Events confirmed to the upstream.",
         [](const account_view& v) { return double(v.session.events_confirmed); }},
        {"wabridge_upstream_lines_rejected_total", "counter", "Malformed upstream lines.",
         [](const account_view& v) { return double(v.session.lines_rejected); }},
        {"wabridge_journal_last_seq", "gauge", "Newest committed seq.",
         [](const account_view& v) { return double(v.journal.last_seq); }},
        {"wabridge_journal_events", "gauge", "Events retained in the journal.",
         [](const account_view& v) { return double(v.journal.event_count); }},
        {"wabridge_journal_commits_total", "counter", "Journal write transactions (fsyncs).",
         [](const account_view& v) { return double(v.journal.commits); }},
        {"wabridge_journal_appended_total", "counter", "Events newly journaled.",
         [](const account_view& v) { return double(v.journal.appended); }},
        {"wabridge_journal_duplicates_total", "counter", "Redelivered events dropped by dedupe.",
         [](const account_view& v) { return double(v.journal.duplicates); }},
        {"wabridge_journal_compacted_total", "counter", "Events removed by retention.",
         [](const account_view& v) { return double(v.journal.compacted); }},
        {"wabridge_journal_degraded", "gauge", "1 when the last journal commit failed.",
         [](const account_view& v) { return v.journal.degraded ? 1.0 : 0.0; }},
        {"wabridge_journal_used_bytes", "gauge", "Bytes of the LMDB map in use.",
         [](const account_view& v) { return double(v.journal.used_bytes); }},
        {"wabridge_outbox_queued", "gauge", "Sends waiting in the outbox (queued or sending).",
         [](const account_view& v) {
           return double(v.journal.outbox.queued + v.journal.outbox.sending);
         }},
        {"wabridge_outbox_last_id", "gauge", "Newest outbox id.",
         [](const account_view& v) { return double(v.journal.outbox_last_id); }},
        {"wabridge_sends_sent_total", "counter", "Sends that ended sent (this worker).",
         [](const account_view& v) { return double(v.session.sends_sent); }},
        {"wabridge_sends_failed_total", "counter", "Sends the upstream refused (this worker).",
         [](const account_view& v) { return double(v.session.sends_failed); }},
        {"wabridge_sends_unknown_total", "counter", "Sends with no answer in time (this worker).",
         [](const account_view& v) { return double(v.session.sends_unknown); }},
    };
    for (const auto& m : per_account) {
      family(m.name, m.type, m.help);
      for (const auto& [name, v] : views)
        out << m.name << "{account=\"" << name << "\"} " << m.value(v) << '\n';
    }
    family("wabridge_consumer_unacked", "gauge", "Events after the consumer's acked seq.");
    for (const auto& [name, v] : views)
      for (const auto& c : v.acks.consumers)
        out << "wabridge_consumer_unacked{account=\"" << name << "\",consumer=\"" << c.name
            << "\"} " << (v.journal.last_seq - std::min(c.acked_seq, v.journal.last_seq)) << '\n';
    res.status = 200;
    res.set_content(out.str(), "text/plain; version=0.0.4");
  }

  caf::actor_system& sys_;
  bridge_config cfg_;
  std::map<std::string, account_actors> accounts_;
  clock_type::time_point started_;
  bool loopback_only_ = true;
  std::atomic<bool> draining_{false};
  drainable_server server_{cfg_.http.threads};
  http_outbound outbound_{sys_, cfg_};
  std::mutex deliveries_mutex_;
  std::condition_variable deliveries_done_;
  std::map<std::string, int> deliveries_;  // guarded by deliveries_mutex_
};

http_front_end::http_front_end(caf::actor_system& sys, bridge_config cfg,
                               std::map<std::string, account_actors> accounts)
    : impl_(std::make_unique<impl>(sys, std::move(cfg), std::move(accounts))) {}

http_front_end::~http_front_end() = default;

caf::expected<int> http_front_end::bind(int listen_fd) {
  return impl_->bind(listen_fd);
}
void http_front_end::serve() {
  impl_->serve();
}
void http_front_end::begin_drain() {
  impl_->begin_drain();
}
void http_front_end::stop() {
  impl_->stop();
}

}  // namespace wabridge
