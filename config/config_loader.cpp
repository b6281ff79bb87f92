// Loads and validates the bridge's TOML config (SPEC §2) into a bridge_config.
// toml++ does the syntax; everything else is checked here, collecting every
// problem with its line and dotted key so an operator fixes them all at once.
// No exception leaves this file: toml++ errors become config_problems.
#include "config/config.hpp"
#include "config/demo_config_toml.hpp"  // generated from config/demo.toml

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <utility>

namespace wabridge {
namespace {

namespace fs = std::filesystem;

constexpr const char* duration_hint = "must be a duration string like \"10s\" or \"250ms\"";
constexpr const char* size_hint = "must be a size string like \"512MiB\" or an integer byte count";

std::string join_key(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out = path;
  out += '.';
  out += key;
  return out;
}

std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

// Account names appear in URLs and file names, hence the narrow alphabet.
bool valid_account_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Parses a decimal port; false unless it is all digits and <= 65535.
bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// Splits "host:port" / "[v6]:port"; host comes back without brackets so it can
// be handed to getaddrinfo/bind as is. Returns an error message or "".
std::string parse_listen(const std::string& listen, std::string& host, uint16_t& port) {
  std::string_view text = listen;
  std::string_view host_part;
  std::string_view port_part;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    host_part = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return "must be \"host:port\", e.g. \"[::1]:3000\"";
    port_part = rest.substr(1);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return "must be \"host:port\", e.g. \"127.0.0.1:3000\"";
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (host_part.find(':') != std::string_view::npos)
      return "IPv6 addresses must be bracketed, e.g. \"[::1]:3000\"";
  }
  if (!parse_port(port_part, port)) return "port must be an integer 0..65535";
  const std::string host_str(host_part);
  if (bracketed) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, host_str.c_str(), &v6) != 1)
      return in_quotes(host_str) + " is not an IPv6 address";
  } else if (host_str != "localhost") {
    in_addr v4{};
    // inet_pton(AF_INET) accepts only the dotted-quad form, which is what we want.
    if (inet_pton(AF_INET, host_str.c_str(), &v4) != 1)
      return "host must be an IPv4 address, \"localhost\" or a bracketed IPv6 address";
  }
  host = host_str;
  return "";
}

// Makes a relative path absolute against base_dir (or the working directory
// when base_dir is empty), so the worker's idea of a path never depends on
// where it was started from.
std::string resolve_path(const std::string& path, const std::string& base_dir) {
  fs::path p(path);
  if (p.is_relative()) {
    fs::path base(base_dir);
    if (base.empty() || base.is_relative()) {
      std::error_code ec;
      const fs::path cwd = fs::current_path(ec);
      if (!ec) base = cwd / base;
    }
    p = base / p;
  }
  return p.lexically_normal().string();
}

// Walks the parsed document once, filling a bridge_config and recording every
// problem; nothing stops at the first error.
class config_checker {
 public:
  config_checker(std::string source_name, std::string base_dir)
      : source_name_(std::move(source_name)), base_dir_(std::move(base_dir)) {}

  config_result check(const toml::table& root) {
    reject_unknown(root, "",
                   {"bridge", "supervisor", "journal", "http", "outbound", "log", "account"});
    if (const auto* t = sub_table(root, "bridge", "")) check_bridge(*t);
    if (const auto* t = sub_table(root, "supervisor", "")) check_supervisor(*t);
    if (const auto* t = sub_table(root, "journal", "")) check_journal(*t);
    if (const auto* t = sub_table(root, "http", "")) check_http(*t);
    if (const auto* t = sub_table(root, "outbound", "")) check_outbound(*t);
    if (const auto* t = sub_table(root, "log", "")) check_log(*t);
    check_accounts(root);
    check_default_account(root);
    // Also when [bridge] is absent: the default "./data" is relative too.
    config_.bridge.data_dir = resolve_path(config_.bridge.data_dir, base_dir_);
    if (!problems_.empty()) {
      // Line order reads best; problems without a line go last.
      std::stable_sort(
          problems_.begin(), problems_.end(), [](const config_problem& a, const config_problem& b) {
            const auto rank = [](const config_problem& p) {
              return std::make_pair(p.line == 0 ? std::numeric_limits<uint32_t>::max() : p.line,
                                    p.column);
            };
            return rank(a) < rank(b);
          });
      return std::move(problems_);
    }
    return std::move(config_);
  }

 private:
  void add(const toml::source_region& where, std::string key, std::string message) {
    problems_.push_back(config_problem{source_name_, where.begin.line, where.begin.column,
                                       std::move(key), std::move(message)});
  }

  void add_unplaced(std::string key, std::string message) {
    problems_.push_back(config_problem{source_name_, 0, 0, std::move(key), std::move(message)});
  }

  void reject_unknown(const toml::table& table, const std::string& path,
                      std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : table) {
      const std::string_view name = key.str();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      add(key.source(), join_key(path, name), node.is_table() ? "unknown table" : "unknown key");
    }
  }

  // The table at path.key, nullptr when absent or (reported) not a table.
  const toml::table* sub_table(const toml::table& parent, std::string_view key,
                               const std::string& path) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) return nullptr;
    if (const auto* table = node->as_table()) return table;
    add(node->source(), join_key(path, key), "must be a table");
    return nullptr;
  }

  // Each read_* leaves `out` untouched when the key is absent or invalid and
  // returns the node it read (nullptr when absent or invalid).
  const toml::node* read_bool(const toml::table& table, std::string_view key,
                              const std::string& path, bool& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    if (const auto* value = node->as_boolean()) {
      out = value->get();
      return node;
    }
    add(node->source(), join_key(path, key), "must be true or false");
    return nullptr;
  }

  const toml::node* read_string(const toml::table& table, std::string_view key,
                                const std::string& path, std::string& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    if (const auto* value = node->as_string()) {
      // TOML allows "\u0000", but every string here ends up in a C API
      // (paths, addresses, argv) that would silently cut it off there.
      if (value->get().find('\0') != std::string::npos) {
        add(node->source(), join_key(path, key), "must not contain NUL characters");
        return nullptr;
      }
      out = value->get();
      return node;
    }
    add(node->source(), join_key(path, key), "must be a string");
    return nullptr;
  }

  const toml::node* read_duration(const toml::table& table, std::string_view key,
                                  const std::string& path, millis& out, bool allow_zero) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    const auto* value = node->as_string();
    const std::optional<millis> parsed =
        value != nullptr ? parse_duration(value->get()) : std::nullopt;
    if (!parsed) {
      add(node->source(), join_key(path, key),
          std::string(duration_hint) + " (units: ms, s, m, h, d)");
      return nullptr;
    }
    if (!allow_zero && parsed->count() == 0) {
      add(node->source(), join_key(path, key), "must be greater than 0s");
      return nullptr;
    }
    out = *parsed;
    return node;
  }

  const toml::node* read_size(const toml::table& table, std::string_view key,
                              const std::string& path, uint64_t& out, uint64_t min,
                              const char* min_text) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    std::optional<uint64_t> parsed;
    if (const auto* text = node->as_string()) {
      parsed = parse_size(text->get());
    } else if (const auto* number = node->as_integer()) {
      if (number->get() >= 0) parsed = static_cast<uint64_t>(number->get());
    }
    if (!parsed) {
      add(node->source(), join_key(path, key), size_hint);
      return nullptr;
    }
    if (*parsed < min) {
      add(node->source(), join_key(path, key), std::string("must be at least ") + min_text);
      return nullptr;
    }
    out = *parsed;
    return node;
  }

  template <typename T>
  const toml::node* read_integer(const toml::table& table, std::string_view key,
                                 const std::string& path, T& out, int64_t min, int64_t max) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return nullptr;
    const auto* value = node->as_integer();
    if (value == nullptr) {
      add(node->source(), join_key(path, key), "must be an integer");
      return nullptr;
    }
    const int64_t n = value->get();
    if (n < min || n > max) {
      // An upper bound that is just the field's type limit is not worth stating.
      const auto type_max = static_cast<int64_t>(
          std::min<uint64_t>(std::numeric_limits<T>::max(), std::numeric_limits<int64_t>::max()));
      std::string message = max >= type_max ? "must be >= " + std::to_string(min)
                                            : "must be between " + std::to_string(min) + " and " +
                                                  std::to_string(max);
      add(node->source(), join_key(path, key), std::move(message));
      return nullptr;
    }
    out = static_cast<T>(n);
    return node;
  }

  void check_bridge(const toml::table& t) {
    const std::string path = "bridge";
    reject_unknown(t, path, {"listen", "data_dir", "default_account"});
    auto& b = config_.bridge;
    std::string listen;
    if (const toml::node* node = read_string(t, "listen", path, listen)) {
      std::string host;
      uint16_t port = 0;
      const std::string error = parse_listen(listen, host, port);
      if (!error.empty()) {
        add(node->source(), "bridge.listen", error);
      } else {
        b.listen = listen;
        b.listen_host = host;
        b.listen_port = port;
      }
    }
    std::string data_dir = b.data_dir;
    if (const toml::node* node = read_string(t, "data_dir", path, data_dir)) {
      if (data_dir.empty()) {
        add(node->source(), "bridge.data_dir", "must not be empty");
      } else {
        b.data_dir = data_dir;
      }
    }
    read_string(t, "default_account", path, b.default_account);
  }

  void check_supervisor(const toml::table& t) {
    const std::string path = "supervisor";
    reject_unknown(t, path,
                   {"drain_timeout", "backoff_initial", "backoff_max", "stable_after",
                    "intensity_max", "intensity_window", "watch_interval", "ready_timeout"});
    auto& s = config_.supervisor;
    read_duration(t, "drain_timeout", path, s.drain_timeout, false);
    const toml::node* initial = read_duration(t, "backoff_initial", path, s.backoff_initial, false);
    const toml::node* max = read_duration(t, "backoff_max", path, s.backoff_max, false);
    read_duration(t, "stable_after", path, s.stable_after, false);
    read_integer(t, "intensity_max", path, s.intensity_max, 1,
                 std::numeric_limits<uint32_t>::max());
    read_duration(t, "intensity_window", path, s.intensity_window, false);
    read_duration(t, "watch_interval", path, s.watch_interval, false);
    read_duration(t, "ready_timeout", path, s.ready_timeout, false);
    // Compare only values that were read successfully (or are defaults), so a
    // bad value is not reported twice.
    const bool initial_ok = initial != nullptr || t.get("backoff_initial") == nullptr;
    const bool max_ok = max != nullptr || t.get("backoff_max") == nullptr;
    if (initial_ok && max_ok && s.backoff_initial > s.backoff_max) {
      const toml::node* where = initial != nullptr ? initial : max;
      const std::string message = "must be <= backoff_max (" + format_duration(s.backoff_max) + ")";
      if (where != nullptr) {
        add(where->source(), "supervisor.backoff_initial", message);
      } else {
        add_unplaced("supervisor.backoff_initial", message);
      }
    }
  }

  void check_journal(const toml::table& t) {
    const std::string path = "journal";
    reject_unknown(t, path,
                   {"retain_acked", "dedupe_window", "map_size", "max_map_size", "max_batch"});
    auto& j = config_.journal;
    read_duration(t, "retain_acked", path, j.retain_acked, true);
    read_duration(t, "dedupe_window", path, j.dedupe_window, false);
    const bool map_ok = read_size(t, "map_size", path, j.map_size, 1ull << 20, "1MiB") != nullptr ||
                        t.get("map_size") == nullptr;
    // 0 (the default) keeps the map at map_size; anything else is a ceiling the
    // journal grows towards, so below map_size it would be a contradiction.
    if (const toml::node* node = read_size(t, "max_map_size", path, j.max_map_size, 0, "0");
        node != nullptr && map_ok && j.max_map_size != 0 && j.max_map_size < j.map_size) {
      add(node->source(), join_key(path, "max_map_size"),
          "must be 0 (never grow) or at least journal.map_size (" + std::to_string(j.map_size) +
              " bytes)");
    }
    read_integer(t, "max_batch", path, j.max_batch, 1, 65536);
  }

  void check_http(const toml::table& t) {
    const std::string path = "http";
    reject_unknown(
        t, path,
        {"threads", "max_body_bytes", "max_wait", "max_limit", "read_timeout", "write_timeout"});
    auto& h = config_.http;
    read_integer(t, "threads", path, h.threads, 1, 256);
    read_size(t, "max_body_bytes", path, h.max_body_bytes, 1024, "1KiB");
    read_duration(t, "max_wait", path, h.max_wait, false);
    read_integer(t, "max_limit", path, h.max_limit, 1, 100000);
    read_duration(t, "read_timeout", path, h.read_timeout, false);
    read_duration(t, "write_timeout", path, h.write_timeout, false);
  }

  void check_outbound(const toml::table& t) {
    const std::string path = "outbound";
    reject_unknown(
        t, path,
        {"chunk_limit", "chunk_delay", "send_timeout", "wait_timeout", "max_attempts", "retain"});
    auto& o = config_.outbound;
    read_integer(t, "chunk_limit", path, o.chunk_limit, 16, 65536);
    read_duration(t, "chunk_delay", path, o.chunk_delay, true);
    read_duration(t, "send_timeout", path, o.send_timeout, false);
    read_duration(t, "wait_timeout", path, o.wait_timeout, true);
    read_integer(t, "max_attempts", path, o.max_attempts, 1, 100);
    read_duration(t, "retain", path, o.retain, false);
  }

  // A number in [0, 1] (TOML integer or float).
  void read_fraction(const toml::table& t, std::string_view key, const std::string& path,
                     double& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return;
    std::optional<double> value;
    if (const auto* f = node->as_floating_point()) value = f->get();
    if (const auto* i = node->as_integer()) value = static_cast<double>(i->get());
    if (!value || !std::isfinite(*value) || *value < 0 || *value > 1) {
      add(node->source(), join_key(path, key), "must be a number from 0 to 1");
      return;
    }
    out = *value;
  }

  void check_log(const toml::table& t) {
    const std::string path = "log";
    reject_unknown(t, path, {"level"});
    std::string level = config_.log.level;
    if (const toml::node* node = read_string(t, "level", path, level)) {
      static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error"};
      if (std::find(std::begin(levels), std::end(levels), level) == std::end(levels)) {
        add(node->source(), "log.level", "must be one of trace, debug, info, warn, error");
      } else {
        config_.log.level = level;
      }
    }
  }

  void check_accounts(const toml::table& root) {
    const toml::node* node = root.get("account");
    if (node == nullptr) {
      add_unplaced("account", "at least one [[account]] is required");
      return;
    }
    const toml::array* accounts = node->as_array();
    if (accounts == nullptr || (!accounts->empty() && !accounts->is_array_of_tables())) {
      add(node->source(), "account", "must be an array of tables ([[account]])");
      return;
    }
    if (accounts->empty()) {
      add(node->source(), "account", "at least one [[account]] is required");
      return;
    }
    for (size_t i = 0; i < accounts->size(); ++i) {
      const toml::table* table = accounts->get(i)->as_table();
      check_account(*table, "account[" + std::to_string(i) + "]");
    }
  }

  void check_account(const toml::table& t, const std::string& path) {
    reject_unknown(t, path, {"name", "upstream", "token", "reply_prefix", "sim", "baileys"});
    account_config account;

    if (const toml::node* node = read_string(t, "name", path, account.name)) {
      if (!valid_account_name(account.name)) {
        add(node->source(), join_key(path, "name"),
            "must be 1-32 characters from a-z, 0-9, '_' and '-'");
      } else {
        for (size_t i = 0; i < config_.accounts.size(); ++i) {
          if (config_.accounts[i].name == account.name) {
            add(node->source(), join_key(path, "name"),
                "duplicate account name " + in_quotes(account.name) + " (also account[" +
                    std::to_string(i) + "])");
            break;
          }
        }
      }
    } else if (t.get("name") == nullptr) {
      add(t.source(), join_key(path, "name"), "is required");
    }

    bool upstream_known = true;
    std::string upstream = "sim";
    if (const toml::node* node = read_string(t, "upstream", path, upstream)) {
      if (upstream == "sim") {
        account.upstream = upstream_kind::sim;
      } else if (upstream == "baileys") {
        account.upstream = upstream_kind::baileys;
      } else {
        add(node->source(), join_key(path, "upstream"), "must be \"sim\" or \"baileys\"");
        upstream_known = false;
      }
    } else if (t.get("upstream") != nullptr) {
      upstream_known = false;
    }

    if (const toml::node* node = read_string(t, "token", path, account.token)) {
      // A token the client cannot put into an Authorization header is a typo.
      const bool bad = std::any_of(account.token.begin(), account.token.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      });
      if (bad) {
        add(node->source(), join_key(path, "token"),
            "must not contain whitespace or control characters");
      }
    }

    read_string(t, "reply_prefix", path, account.reply_prefix);

    if (const toml::table* sim = sub_table(t, "sim", path)) {
      const std::string sim_path = join_key(path, "sim");
      if (upstream_known && account.upstream != upstream_kind::sim)
        add(sim->source(), sim_path, "only allowed when upstream = \"sim\"");
      check_sim(*sim, sim_path, account.sim);
    }
    if (const toml::table* baileys = sub_table(t, "baileys", path)) {
      const std::string baileys_path = join_key(path, "baileys");
      if (upstream_known && account.upstream != upstream_kind::baileys)
        add(baileys->source(), baileys_path, "only allowed when upstream = \"baileys\"");
      check_baileys(*baileys, baileys_path, account.baileys);
    }
    config_.accounts.push_back(std::move(account));
  }

  void check_sim(const toml::table& t, const std::string& path, sim_config& sim) {
    reject_unknown(
        t, path,
        {"rate", "total", "seed", "body_bytes", "chats", "send_fail", "send_stall", "send_delay"});
    if (const toml::node* node = t.get("rate")) {
      std::optional<double> rate;
      if (const auto* f = node->as_floating_point()) rate = f->get();
      if (const auto* i = node->as_integer()) rate = static_cast<double>(i->get());
      if (!rate) {
        add(node->source(), join_key(path, "rate"), "must be a number");
      } else if (!std::isfinite(*rate) || *rate < 0) {
        add(node->source(), join_key(path, "rate"), "must be a finite number >= 0");
      } else {
        sim.rate = *rate;
      }
    }
    constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
    read_integer(t, "total", path, sim.total, 0, int64_max);
    read_integer(t, "seed", path, sim.seed, 0, int64_max);
    read_integer(t, "body_bytes", path, sim.body_bytes, 0, 65536);
    read_integer(t, "chats", path, sim.chats, 1, 100000);
    read_fraction(t, "send_fail", path, sim.send_fail);
    read_fraction(t, "send_stall", path, sim.send_stall);
    read_duration(t, "send_delay", path, sim.send_delay, true);
  }

  void check_baileys(const toml::table& t, const std::string& path, baileys_config& baileys) {
    reject_unknown(t, path,
                   {"node", "sidecar_dir", "mode", "allowed_users", "pair_phone", "media_dir",
                    "reconnect_initial", "reconnect_max", "receipt_after_spool"});
    read_bool(t, "receipt_after_spool", path, baileys.receipt_after_spool);
    if (const toml::node* node = read_string(t, "node", path, baileys.node)) {
      if (baileys.node.empty()) add(node->source(), join_key(path, "node"), "must not be empty");
    }
    if (read_string(t, "sidecar_dir", path, baileys.sidecar_dir) && !baileys.sidecar_dir.empty())
      baileys.sidecar_dir = resolve_path(baileys.sidecar_dir, base_dir_);
    if (read_string(t, "media_dir", path, baileys.media_dir) && !baileys.media_dir.empty())
      baileys.media_dir = resolve_path(baileys.media_dir, base_dir_);
    std::string mode;
    if (const toml::node* node = read_string(t, "mode", path, mode)) {
      if (mode == "bot")
        baileys.mode = baileys_mode::bot;
      else if (mode == "self-chat")
        baileys.mode = baileys_mode::self_chat;
      else
        add(node->source(), join_key(path, "mode"), "must be \"bot\" or \"self-chat\"");
    }
    if (const toml::node* node = t.get("allowed_users")) {
      const auto* list = node->as_array();
      bool ok = list != nullptr;
      std::vector<std::string> users;
      if (ok) {
        for (const auto& item : *list) {
          const auto* text = item.as_string();
          if (text == nullptr || text->get().empty() || has_control(text->get())) {
            ok = false;
            break;
          }
          users.push_back(text->get());
        }
      }
      if (ok)
        baileys.allowed_users = std::move(users);
      else
        add(node->source(), join_key(path, "allowed_users"),
            "must be an array of phone numbers or JIDs (strings), or [\"*\"] for everybody");
    }
    if (const toml::node* node = read_string(t, "pair_phone", path, baileys.pair_phone)) {
      const bool digits = std::all_of(baileys.pair_phone.begin(), baileys.pair_phone.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || (!baileys.pair_phone.empty() && baileys.pair_phone.size() < 6))
        add(node->source(), join_key(path, "pair_phone"),
            "must be the phone number in digits with country code and no '+', e.g. "
            "\"4915112345678\"");
    }
    const toml::node* initial =
        read_duration(t, "reconnect_initial", path, baileys.reconnect_initial, false);
    const toml::node* max = read_duration(t, "reconnect_max", path, baileys.reconnect_max, false);
    if ((initial != nullptr || max != nullptr) && baileys.reconnect_max < baileys.reconnect_initial)
      add((max != nullptr ? max : initial)->source(), join_key(path, "reconnect_max"),
          "must be >= reconnect_initial");
  }

  static bool has_control(const std::string& text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  }

  // Runs after the accounts so it can check the name against them.
  void check_default_account(const toml::table& root) {
    auto& name = config_.bridge.default_account;
    if (config_.accounts.empty()) return;
    if (name.empty()) {
      name = config_.accounts.front().name;
      return;
    }
    if (config_.find_account(name) != nullptr) return;
    const toml::node* node = root.at_path("bridge.default_account").node();
    const std::string message = "no [[account]] is named " + in_quotes(name);
    if (node != nullptr) {
      add(node->source(), "bridge.default_account", message);
    } else {
      add_unplaced("bridge.default_account", message);
    }
  }

  std::string source_name_;
  std::string base_dir_;
  bridge_config config_;
  std::vector<config_problem> problems_;
};

config_problem syntax_problem(const std::string& source_name, const toml::source_region& where,
                              std::string_view description) {
  return config_problem{source_name, where.begin.line, where.begin.column, "",
                        std::string(description)};
}

// load_config_file without the safety net; only allocation failures can throw.
config_result load_config_file_or_throw(const std::string& path) {
  std::string text;
  int read_errno = 0;
  // stdio rather than ifstream: it reports why (errno), including EISDIR.
  if (std::FILE* file = std::fopen(path.c_str(), "rb")) {
    char buffer[16384];
    size_t n = 0;
    errno = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    if (std::ferror(file)) read_errno = errno != 0 ? errno : EIO;
    std::fclose(file);
  } else {
    read_errno = errno;
  }
  if (read_errno != 0) {
    return std::vector<config_problem>{config_problem{
        path, 0, 0, "", std::string("cannot read config file: ") + std::strerror(read_errno)}};
  }

  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(path), ec);
  if (ec) absolute = fs::path(path);
  absolute = absolute.lexically_normal();
  config_result result = parse_config(text, path, absolute.parent_path().string());
  if (auto* config = std::get_if<bridge_config>(&result)) config->source_path = absolute.string();
  return result;
}

}  // namespace

const char* to_string(upstream_kind kind) {
  switch (kind) {
    case upstream_kind::sim:
      return "sim";
    case upstream_kind::baileys:
      return "baileys";
  }
  return "unknown";
}

const char* to_string(baileys_mode mode) {
  return mode == baileys_mode::self_chat ? "self-chat" : "bot";
}

const account_config* bridge_config::find_account(const std::string& name) const {
  for (const auto& account : accounts)
    if (account.name == name) return &account;
  return nullptr;
}

std::string to_string(const config_problem& problem) {
  std::string out = problem.file;
  if (problem.line != 0) {
    out += ':' + std::to_string(problem.line) + ':' + std::to_string(problem.column);
  }
  out += ": ";
  if (!problem.key.empty()) out += problem.key + ": ";
  out += problem.message;
  return out;
}

config_result parse_config(const std::string& text, const std::string& source_name,
                           const std::string& base_dir) {
  // Everything below may allocate; bad_alloc and friends become a problem too,
  // because no exception may leave the loader.
  try {
    toml::table root;
#if TOML_EXCEPTIONS
    try {
      root = toml::parse(text, source_name);
    } catch (const toml::parse_error& error) {
      return std::vector<config_problem>{
          syntax_problem(source_name, error.source(), error.description())};
    }
#else
    toml::parse_result parsed = toml::parse(text, source_name);
    if (!parsed) {
      const toml::parse_error& error = parsed.error();
      return std::vector<config_problem>{
          syntax_problem(source_name, error.source(), error.description())};
    }
    root = std::move(parsed).table();
#endif
    config_checker checker(source_name, base_dir);
    return checker.check(root);
  } catch (const std::exception& error) {
    return std::vector<config_problem>{
        config_problem{source_name, 0, 0, "", std::string("cannot load: ") + error.what()}};
  }
}

config_result load_config_file(const std::string& path) {
  try {
    return load_config_file_or_throw(path);
  } catch (const std::exception& error) {
    return std::vector<config_problem>{
        config_problem{path, 0, 0, "", std::string("cannot load: ") + error.what()}};
  }
}

config_result load_demo_config() {
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  return parse_config(demo_config_text(), "<demo>", ec ? std::string() : cwd.string());
}

const std::string& demo_config_text() {
  static const std::string text(generated::demo_config_toml);
  return text;
}

}  // namespace wabridge
