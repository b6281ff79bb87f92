// The validated bridge configuration (SPEC §2) and its loader. A bridge_config
// is an immutable value: it is loaded once per worker generation and copied
// into whoever needs it. Loading never throws; every problem in the file is
// collected with its line and key so an operator can fix them all at once.
#pragma once

#include "common/duration.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace wabridge {

enum class upstream_kind { sim, baileys };

const char* to_string(upstream_kind kind);

/// [account.sim]: the simulated WhatsApp server's knobs.
struct sim_config {
  double rate = 5.0;        // events per second; 0 = as fast as possible
  uint64_t total = 0;       // stop after this many distinct events; 0 = unlimited
  uint64_t seed = 1;        // PRNG seed: same seed, same event stream
  uint32_t body_bytes = 0;  // mean body length; 0 = realistic mix of short and long texts
  uint32_t chats = 50;      // distinct chats the events are spread over
  double send_fail = 0.0;   // fraction of outbound sends answered ok:false (simulated failure)
  double send_stall = 0.0;  // fraction of outbound sends never answered (exercises send_timeout)
  millis send_delay{0};     // how long each outbound send takes before it is answered
};

/// Which inbound messages a Baileys account takes (docs/sidecar.md, "Filters").
enum class baileys_mode { bot, self_chat };

const char* to_string(baileys_mode mode);

/// [account.baileys]: the Node sidecar that talks to real WhatsApp.
struct baileys_config {
  std::string node = "node";  // node executable
  std::string sidecar_dir;    // "" = found next to the binary (see find_sidecar_dir)
  baileys_mode mode = baileys_mode::bot;
  // Senders taken in bot mode: phone numbers or JIDs; empty = nobody, "*" = everybody.
  std::vector<std::string> allowed_users;
  std::string pair_phone;  // "" = pair by QR; digits with country code = pair by code
  std::string media_dir;   // "" = <data_dir>/accounts/<name>/media
  millis reconnect_initial{1'000};
  millis reconnect_max{60'000};
  // WhatsApp's delivery receipt waits until the message is in the sidecar's
  // spool (fsync'd); needs the Baileys patch npm ci applies (docs/sidecar.md).
  bool receipt_after_spool = true;
};

/// One [[account]] table.
struct account_config {
  std::string name;  // [a-z0-9_-]{1,32}
  upstream_kind upstream = upstream_kind::sim;
  std::string token;         // "" = no bearer token required
  std::string reply_prefix;  // put before every outgoing text (self-chat mode); "" = none
  sim_config sim;
  baileys_config baileys;
};

/// [journal]: retention and storage knobs, shared by all accounts.
struct journal_config {
  millis retain_acked{3'600'000};        // keep acked events this long before compaction
  millis dedupe_window{7 * 86'400'000};  // remember eventUids this long for dedupe
  uint64_t map_size = 1ull << 30;        // LMDB map size per account
  uint64_t max_map_size = 0;             // grow the map up to this when full; 0 = never grow
  uint32_t max_batch = 4096;             // most events committed in one transaction
};

/// [http]: front-end limits.
struct http_config {
  uint32_t threads = 16;  // worker threads (each keep-alive/long-poll holds one)
  uint64_t max_body_bytes = 1 << 20;
  millis max_wait{60'000};    // cap on ?wait=
  uint32_t max_limit = 1000;  // cap on ?limit=
  millis read_timeout{10'000};
  millis write_timeout{10'000};
};

/// [outbound]: how sends go out (docs/http-api.md, "Outbound").
struct outbound_config {
  uint32_t chunk_limit = 4096;  // code points per text message; longer texts are split
  millis chunk_delay{300};      // pause between the chunks of one text
  millis send_timeout{30'000};  // an upstream command not answered by then is "unknown"
  millis wait_timeout{60'000};  // how long a synchronous HTTP send waits before answering 202
  uint32_t max_attempts = 3;    // hand-overs to the upstream (restarts resume) before "unknown"
  millis retain{86'400'000};    // keep finished sends (and idempotency keys) this long
};

/// [supervisor]
struct supervisor_config {
  millis drain_timeout{10'000};
  millis backoff_initial{250};
  millis backoff_max{30'000};
  millis stable_after{60'000};      // a worker up this long resets the backoff
  uint32_t intensity_max = 10;      // crashes allowed ...
  millis intensity_window{60'000};  // ... within this window before giving up
  millis watch_interval{1'000};     // how often the binary and config file are checked
  millis ready_timeout{30'000};     // a worker not ready by then is killed (counts as a crash)
};

/// [log]
struct log_config {
  std::string level = "info";  // trace|debug|info|warn|error
};

/// [bridge]
struct bridge_section {
  std::string listen = "127.0.0.1:3000";
  std::string listen_host = "127.0.0.1";  // derived from listen
  uint16_t listen_port = 3000;            // derived from listen; 0 = pick a free port
  std::string data_dir = "./data";        // relative paths resolve against the config file's dir
  std::string default_account;            // "" = the first account
};

struct bridge_config {
  std::string source_path;  // the file this was loaded from ("" = embedded demo)
  bridge_section bridge;
  supervisor_config supervisor;
  journal_config journal;
  http_config http;
  outbound_config outbound;
  log_config log;
  std::vector<account_config> accounts;

  /// The account named `name`, or nullptr.
  const account_config* find_account(const std::string& name) const;
};

/// One problem found in a config file: where, which key, what is wrong.
struct config_problem {
  std::string file;
  uint32_t line = 0;  // 0 = not tied to a line (e.g. a missing table)
  uint32_t column = 0;
  std::string key;  // dotted path, e.g. "account[1].sim.rate"
  std::string message;
};

/// "demo.toml:12:3: account[1].sim.rate: must be >= 0"
std::string to_string(const config_problem& problem);

using config_result = std::variant<bridge_config, std::vector<config_problem>>;

/// Parses and validates `text` (named `source_name` in problems). Relative
/// data_dir resolves against `base_dir`. Unknown keys are problems, so a typo
/// never silently falls back to a default.
config_result parse_config(const std::string& text, const std::string& source_name,
                           const std::string& base_dir);

/// Reads and parses the file at `path`. Relative paths in it resolve against
/// the file's directory; source_path is set to the file's absolute path.
config_result load_config_file(const std::string& path);

/// Parses demo_config_text() (named "<demo>" in problems); relative paths
/// resolve against the current working directory.
config_result load_demo_config();

/// The embedded demo config (two simulated accounts, data under ./data),
/// the same text as config/demo.toml.
const std::string& demo_config_text();

}  // namespace wabridge
