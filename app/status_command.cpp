#include "app/status_command.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace wabridge {
namespace {

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

}  // namespace

int run_status_command(const status_options& options) {
  httplib::Client client(options.url);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  httplib::Headers headers{{"Host", "localhost"}};
  if (!options.token.empty()) headers.emplace("Authorization", "Bearer " + options.token);
  auto res = client.Get("/status", headers);
  if (!res) {
    if (options.json) {
      std::cout << nlohmann::json{{"running", false}, {"url", options.url}}.dump() << '\n';
    } else {
      std::cout << "wabridge is not running at " << options.url << " ("
                << httplib::to_string(res.error()) << ")\n";
    }
    return 2;
  }
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || body.is_discarded() || !body.is_object()) {
    std::cerr << "unexpected answer from " << options.url << ": HTTP " << res->status << ' '
              << res->body.substr(0, 200) << '\n';
    return 1;
  }
  // Accounts behind their own token: ask each one with its token.
  for (const auto& [name, token] : options.account_tokens) {
    if (token.empty()) continue;
    httplib::Headers account_headers{{"Host", "localhost"}, {"Authorization", "Bearer " + token}};
    auto one = client.Get(("/accounts/" + name + "/status").c_str(), account_headers);
    if (!one || one->status != 200) continue;
    auto detail = nlohmann::json::parse(one->body, nullptr, false);
    if (detail.is_discarded() || !detail.contains("accounts") || detail["accounts"].empty())
      continue;
    for (auto& acc : body["accounts"])
      if (acc.value("name", "") == name) acc = detail["accounts"][0];
  }
  bool healthy = true;
  for (const auto& acc : body.value("accounts", nlohmann::json::array())) {
    if (acc.contains("error"))
      healthy = false;
    else if (acc["upstream"].value("state", "") != "connected" ||
             acc["journal"].value("degraded", false))
      healthy = false;
  }
  if (options.json) {
    body["running"] = true;
    body["healthy"] = healthy;
    std::cout << body.dump(2) << '\n';
    return healthy ? 0 : 1;
  }
  std::printf("wabridge %s  pid %lld  up %s  listen %s  %s\n", body.value("version", "?").c_str(),
              static_cast<long long>(body.value("pid", 0)), age(body.value("uptime", 0.0)).c_str(),
              body.value("listen", "?").c_str(), healthy ? "healthy" : "DEGRADED");
  std::printf("%-16s %-8s %-13s %-8s %-9s %-10s %-8s %-8s %s\n", "ACCOUNT", "KIND", "UPSTREAM",
              "PID", "RESTARTS", "LAST-SEQ", "JOURNAL", "UNACKED", "OLDEST-UNACKED");
  for (const auto& acc : body.value("accounts", nlohmann::json::array())) {
    if (acc.contains("error")) {
      std::printf("%-16s error: %s\n", acc.value("name", "?").c_str(),
                  acc.value("error", "").c_str());
      continue;
    }
    const auto& up = acc["upstream"];
    const auto& j = acc["journal"];
    const auto& oldest = acc["oldestUnackedAgeMs"];
    std::printf("%-16s %-8s %-13s %-8lld %-9u %-10llu %-8s %-8llu %s\n",
                acc.value("name", "?").c_str(), up.value("kind", "?").c_str(),
                up.value("state", "?").c_str(), static_cast<long long>(up.value("pid", 0)),
                up.value("restarts", 0u), static_cast<unsigned long long>(j.value("lastSeq", 0ull)),
                j.value("degraded", false) ? "DEGRADED" : "ok",
                static_cast<unsigned long long>(acc.value("unacked", 0ull)),
                oldest.is_number() ? age(oldest.get<double>() / 1000.0).c_str() : "-");
  }
  return healthy ? 0 : 1;
}

}  // namespace wabridge
