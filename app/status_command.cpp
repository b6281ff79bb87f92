#include "app/status_command.hpp"

#include "supervisor/supervisor_state.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <optional>

namespace wabridge {
namespace {

using nlohmann::json;

std::string age(double seconds) {
  char buf[32];
  if (seconds < 120)
    std::snprintf(buf, sizeof(buf), "%.0fs", seconds);
  else if (seconds < 7200)
    std::snprintf(buf, sizeof(buf), "%.0fm", seconds / 60);
  else
    std::snprintf(buf, sizeof(buf), "%.1fh", seconds / 3600);
  return buf;
}

std::string age_since_ms(int64_t wall_ms) {
  if (wall_ms <= 0) return "-";
  return age(static_cast<double>(supervisor::wall_clock_ms() - wall_ms) / 1000.0);
}

// GET /status, with the accounts behind their own token asked separately
// (the bare listing shows their detail only to holders of their token).
std::optional<json> fetch_status(const status_options& options, bool quick, std::string& error) {
  httplib::Client client(options.url);
  client.set_connection_timeout(2, 0);
  // A restarting worker leaves requests waiting in the backlog: don't wait long then.
  client.set_read_timeout(quick ? 2 : 5, 0);
  httplib::Headers headers{{"Host", "localhost"}};
  if (!options.token.empty()) headers.emplace("Authorization", "Bearer " + options.token);
  auto res = client.Get("/status", headers);
  if (!res) {
    error = httplib::to_string(res.error());
    return std::nullopt;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status != 200 || body.is_discarded() || !body.is_object()) {
    error = "HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 200);
    return std::nullopt;
  }
  for (const auto& [name, token] : options.account_tokens) {
    if (token.empty()) continue;
    httplib::Headers account_headers{{"Host", "localhost"}, {"Authorization", "Bearer " + token}};
    auto one = client.Get(("/accounts/" + name + "/status").c_str(), account_headers);
    if (!one || one->status != 200) continue;
    auto detail = json::parse(one->body, nullptr, false);
    if (detail.is_discarded() || !detail.contains("accounts") || detail["accounts"].empty())
      continue;
    for (auto& acc : body["accounts"])
      if (acc.value("name", "") == name) acc = detail["accounts"][0];
  }
  return body;
}

bool accounts_healthy(const json& body) {
  bool healthy = true;
  for (const auto& acc : body.value("accounts", json::array())) {
    if (acc.contains("error"))
      healthy = false;
    else if (acc["upstream"].value("state", "") != "connected" ||
             acc["journal"].value("degraded", false))
      healthy = false;
    else if (acc.contains("supervision") && acc["supervision"].value("state", "") != "running")
      healthy = false;
  }
  return healthy;
}

void print_supervisor(const supervisor::supervisor_state& s) {
  std::printf("supervisor pid %lld  up %s  state %s  listen %s\n", static_cast<long long>(s.pid),
              age_since_ms(s.started_at_ms).c_str(), s.state.c_str(), s.listen.c_str());
  if (s.worker_pid > 0)
    std::printf("worker     pid %lld  up %s  generation %llu  %s\n",
                static_cast<long long>(s.worker_pid), age_since_ms(s.worker_started_at_ms).c_str(),
                static_cast<unsigned long long>(s.generation),
                s.worker_ready ? "ready" : "starting");
  else
    std::printf("worker     not running\n");
  std::printf("restarts   %u (crashes %u)  last exit %s%s  last restart %s\n", s.restarts,
              s.crashes, s.last_exit.empty() ? "-" : s.last_exit.c_str(),
              s.last_exit.empty() ? "" : (s.last_exit_expected ? " (expected)" : " (unexpected)"),
              s.last_restart_reason.empty() ? "-" : s.last_restart_reason.c_str());
  if (s.state == "backoff" && s.next_restart_at_ms > 0)
    std::printf("next restart in %lld ms\n",
                static_cast<long long>(s.next_restart_at_ms - supervisor::wall_clock_ms()));
  if (!s.message.empty()) std::printf("note       %s\n", s.message.c_str());
}

void print_accounts(const json& body) {
  std::printf("%-16s %-8s %-13s %-8s %-9s %-10s %-8s %-8s %-15s %s\n", "ACCOUNT", "KIND",
              "UPSTREAM", "PID", "RESTARTS", "LAST-SEQ", "JOURNAL", "UNACKED", "OLDEST-UNACKED",
              "SENDS-PENDING");
  for (const auto& acc : body.value("accounts", json::array())) {
    if (acc.contains("error")) {
      std::printf("%-16s error: %s\n", acc.value("name", "?").c_str(),
                  acc.value("error", "").c_str());
      continue;
    }
    const auto& up = acc["upstream"];
    const auto& j = acc["journal"];
    const auto& oldest = acc["oldestUnackedAgeMs"];
    const json outbox = acc.value("outbox", json::object());
    const unsigned long long pending = outbox.value("queued", 0ull) + outbox.value("sending", 0ull);
    std::printf("%-16s %-8s %-13s %-8lld %-9u %-10llu %-8s %-8llu %-15s %llu\n",
                acc.value("name", "?").c_str(), up.value("kind", "?").c_str(),
                up.value("state", "?").c_str(), static_cast<long long>(up.value("pid", 0)),
                up.value("restarts", 0u), static_cast<unsigned long long>(j.value("lastSeq", 0ull)),
                j.value("degraded", false) ? "DEGRADED" : "ok",
                static_cast<unsigned long long>(acc.value("unacked", 0ull)),
                oldest.is_number() ? age(oldest.get<double>() / 1000.0).c_str() : "-", pending);
    // Why an upstream is not connected, and what to do about it (e.g. "pair
    // again", "run npm ci"): the reason is the upstream's own words.
    const std::string state = up.value("state", "");
    const std::string reason = up.value("reason", "");
    if (state != "connected" && !reason.empty())
      std::printf("%-16s upstream %s: %s\n", "", state.c_str(), reason.c_str());
    if (state == "qr")
      std::printf("%-16s waiting to be paired: wabridge pair --account %s\n", "",
                  acc.value("name", "?").c_str());
    if (acc.contains("supervision") && acc["supervision"].value("state", "") != "running")
      std::printf("%-16s actors %s: %s\n", "", acc["supervision"].value("state", "?").c_str(),
                  acc["supervision"].value("reason", "").c_str());
  }
}

}  // namespace

int run_status_command(const status_options& options) {
  // The supervisor's view, when we know where it publishes it.
  std::optional<supervisor::supervisor_state> sup;
  bool sup_alive = false;
  if (!options.data_dir.empty()) {
    sup_alive = supervisor::supervisor_alive(options.data_dir);
    sup = supervisor::read_state_file(options.data_dir);
  }
  const bool knows_supervisor = !options.data_dir.empty();
  if (knows_supervisor && !sup_alive) {
    const bool gave_up = sup && sup->state == "gave_up";
    if (options.json) {
      json out{{"running", false}, {"url", options.url}};
      if (sup) out["supervisor"] = to_json(*sup);
      std::cout << out.dump(2) << '\n';
    } else if (gave_up) {
      std::cout << "wabridge is not running: the supervisor gave up (" << sup->message
                << "); last exit " << sup->last_exit << "\n";
    } else {
      std::cout << "wabridge is not running (no supervisor holds "
                << supervisor::lock_file_path(options.data_dir) << ")\n";
    }
    return 2;
  }
  const bool worker_serving = !sup || (sup->state == "running" && sup->worker_ready);
  std::string error;
  auto body = fetch_status(options, !worker_serving, error);
  if (!body && !sup) {
    if (options.json)
      std::cout << json{{"running", false}, {"url", options.url}, {"error", error}}.dump(2) << '\n';
    else
      std::cout << "wabridge is not running at " << options.url << " (" << error << ")\n";
    return 2;
  }
  const bool healthy = body && worker_serving && accounts_healthy(*body);
  if (options.json) {
    json out = body ? *body : json::object();
    out["running"] = true;
    out["healthy"] = healthy;
    if (sup) out["supervisor"] = to_json(*sup);
    if (!body) out["error"] = error;
    std::cout << out.dump(2) << '\n';
    return healthy ? 0 : 1;
  }
  if (body)
    std::printf("wabridge %s  listen %s  %s\n", body->value("version", "?").c_str(),
                body->value("listen", "?").c_str(), healthy ? "healthy" : "DEGRADED");
  else
    std::printf("wabridge  DEGRADED: the worker is not answering (%s)\n", error.c_str());
  if (sup) print_supervisor(*sup);
  if (body) print_accounts(*body);
  return healthy ? 0 : 1;
}

}  // namespace wabridge
