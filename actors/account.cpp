#include "actors/account.hpp"

namespace wabridge {

std::shared_ptr<const account_handles> account_handle_cache::get() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return current_;
}

void account_handle_cache::put(account_handles fresh) {
  auto next = std::make_shared<const account_handles>(std::move(fresh));
  std::lock_guard<std::mutex> lock{mutex_};
  if (next->generation >= current_->generation) current_ = std::move(next);
}

std::string account_dir(const bridge_config& cfg, const std::string& name) {
  return cfg.bridge.data_dir + "/accounts/" + name;
}

}  // namespace wabridge
