// libFuzzer target: one line of the upstream protocol in either direction
// (upstream/protocol.hpp). Parsing must be total — an error value, never a
// crash or an exception — and what it accepts must hold the invariants the
// journal relies on: a bounded non-empty uid, and a payload that is a JSON
// object whose eventUid is that uid.
#include "upstream/protocol.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace wabridge::upstream;

namespace {

void require(bool ok) {
  if (!ok) std::abort();  // an invariant broke: libFuzzer reports the input
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  if (auto msg = parse_upstream_line(line)) {
    if (const auto* event = std::get_if<event_msg>(&*msg)) {
      require(!event->uid.empty() && event->uid.size() <= max_uid_bytes);
      const auto payload = nlohmann::json::parse(event->payload, nullptr, false);
      require(payload.is_object());
      require(payload.contains("eventUid") && payload["eventUid"] == event->uid);
      require(!payload.contains("seq") && !payload.contains("receivedAt"));
    }
    if (const auto* state = std::get_if<state_msg>(&*msg)) {
      // What the worker shows must survive its own formatter.
      require(static_cast<bool>(parse_upstream_line(format_state(*state))));
    }
  }
  if (auto msg = parse_worker_line(line)) {
    if (const auto* confirm = std::get_if<confirm_msg>(&*msg))
      require(static_cast<bool>(parse_worker_line(format_confirm(confirm->uids))));
    if (const auto* send = std::get_if<send_msg>(&*msg))
      require(static_cast<bool>(parse_worker_line(format_send(*send))));
  }
  return 0;
}
