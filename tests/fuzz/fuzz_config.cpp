// libFuzzer target: the config loader (config/config.hpp) on arbitrary
// text. It must never throw or crash; it either yields a config that keeps
// the loader's promises (at least one account, every name valid and unique,
// the default account among them) or at least one problem with a message.
#include "config/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <variant>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = wabridge::parse_config(text, "fuzz.toml", "/tmp");
  if (const auto* problems = std::get_if<std::vector<wabridge::config_problem>>(&result)) {
    require(!problems->empty());
    for (const auto& p : *problems) require(!p.message.empty());
    return 0;
  }
  const auto& cfg = std::get<wabridge::bridge_config>(result);
  require(!cfg.accounts.empty());
  std::set<std::string> names;
  for (const auto& account : cfg.accounts) {
    require(!account.name.empty() && account.name.size() <= 32);
    require(names.insert(account.name).second);
  }
  require(cfg.find_account(cfg.bridge.default_account) != nullptr);
  return 0;
}
