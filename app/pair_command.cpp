#include "app/pair_command.hpp"

#include "actors/account.hpp"
#include "common/qr_text.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/data_dir_lock.hpp"
#include "upstream/baileys_launch.hpp"
#include "upstream/protocol.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

namespace wabridge {
namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

std::atomic<bool> interrupted{false};

void on_interrupt(int) {
  interrupted = true;
}

void show_qr(const std::string& account, const std::string& qr) {
  auto drawn = render_qr_text(qr);
  if (!drawn) {
    std::cerr << "pair: " << describe(drawn.error()) << '\n';
    return;
  }
  std::cout << '\n'
            << *drawn << "account " << account
            << ": scan this with WhatsApp on the phone: Settings > Linked devices > Link a "
               "device\n(a new code replaces it every ~20 s until the phone is linked)\n"
            << std::flush;
}

void show_code(const std::string& account, const std::string& code) {
  std::cout << "account " << account
            << ": on the phone choose \"Link with phone number instead\" and enter " << code << '\n'
            << std::flush;
}

// ---- with a running bridge -------------------------------------------------

struct bridge_link {
  httplib::Client client;
  httplib::Headers headers;
  std::string path;
};

// GET or POST /accounts/NAME/pairing. nullopt when nothing answers (no bridge).
std::optional<httplib::Result> ask(bridge_link& link, bool post) {
  auto res = post ? link.client.Post(link.path.c_str(), link.headers, "", "application/json")
                  : link.client.Get(link.path.c_str(), link.headers);
  if (!res) return std::nullopt;
  return res;
}

int pair_through_bridge(bridge_link& link, const pair_options& options, httplib::Result first) {
  if (first->status != 200) {
    auto body = json::parse(first->body, nullptr, false);
    std::cerr << "pair: the running bridge refused: HTTP " << first->status << ' '
              << (body.is_object() ? body.value("error", first->body) : first->body) << '\n';
    return first->status == 404 || first->status == 409 ? 2 : 1;
  }
  if (!options.phone.empty()) {
    std::cerr << "pair: a bridge is running; --phone only works without one. Set "
                 "account.baileys.pair_phone in the config (the worker restarts on the change) "
                 "or stop the bridge and run pair again\n";
    return 2;
  }
  std::cout << "pair: asking the running bridge for account " << options.account << '\n';
  const auto deadline = clock_type::now() + options.timeout;
  std::string shown_qr, shown_code, shown_state;
  bool first_round = true;
  while (!interrupted && clock_type::now() < deadline) {
    // The first request also starts pairing afresh if the account is logged out.
    auto res = ask(link, first_round);
    first_round = false;
    if (!res) {
      std::cerr << "pair: the bridge stopped answering; waiting for it\n";
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    auto body = json::parse((*res)->body, nullptr, false);
    if ((*res)->status != 200 || !body.is_object()) {
      std::cerr << "pair: HTTP " << (*res)->status << ' ' << (*res)->body << '\n';
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    const std::string state = body.value("state", "");
    if (body.value("linked", false)) {
      std::cout << "account " << options.account << ": linked (connected)\n";
      return 0;
    }
    if (state != shown_state) {
      std::cout << "account " << options.account << ": " << state;
      const std::string reason = body.value("reason", "");
      if (!reason.empty()) std::cout << " (" << reason << ')';
      std::cout << '\n' << std::flush;
      shown_state = state;
    }
    const std::string qr = body["qr"].is_string() ? body["qr"].get<std::string>() : "";
    if (!qr.empty() && qr != shown_qr) show_qr(options.account, shown_qr = qr);
    const std::string code =
        body["pairingCode"].is_string() ? body["pairingCode"].get<std::string>() : "";
    if (!code.empty() && code != shown_code) show_code(options.account, shown_code = code);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cerr << "pair: account " << options.account << " is not linked"
            << (interrupted ? " (interrupted)" : " (timed out)") << '\n';
  return 1;
}

// ---- without a bridge: run the sidecar here ----------------------------------

// Reads complete lines from `fd` into `lines`; false on EOF or error.
bool read_lines(int fd, std::string& buffer, std::vector<std::string>& lines) {
  char chunk[65536];
  const ssize_t n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return n < 0 && errno == EINTR;
  buffer.append(chunk, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(buffer.substr(start, nl - start));
  buffer.erase(0, start);
  return true;
}

// Lets the sidecar go the way the worker does at a drain: `stop`, then
// stdin EOF. It keeps whatever arrived meanwhile in its spool (unconfirmed
// here), so the bridge receives those messages when it starts.
void dismiss(supervisor::child_process& child) {
  (void)child.write_all(upstream::format_stop() + "\n");
  child.close_stdin();
  for (int i = 0; i < 1000 && !child.try_wait(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  child.send_signal(SIGKILL);
  child.wait();
}

enum class outcome { linked, logged_out, failed };

outcome run_sidecar_once(const std::vector<std::string>& argv, const std::string& state_dir,
                         const pair_options& options, clock_type::time_point deadline) {
  // A sidecar of a worker that was just killed may still be writing its
  // spool: wait for it, then hand the state dir's lock to ours.
  auto lock = upstream::lock_sidecar_state(state_dir);
  for (int i = 0; !lock && i < 300 && !interrupted; ++i) {
    if (i == 0) std::cout << "pair: " << describe(lock.error()) << '\n' << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lock = upstream::lock_sidecar_state(state_dir);
  }
  if (!lock) {
    std::cerr << "pair: " << describe(lock.error()) << '\n';
    return outcome::failed;
  }
  auto child = supervisor::child_process::spawn(argv, {}, {*lock});
  ::close(*lock);
  if (!child) {
    std::cerr << "pair: cannot start the sidecar: " << describe(child.error()) << '\n';
    return outcome::failed;
  }
  std::string buffer, shown_qr, shown_code;
  std::vector<std::string> lines;
  while (!interrupted && clock_type::now() < deadline) {
    pollfd pfd{(*child)->stdout_fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 200);
    if (ready <= 0) continue;
    lines.clear();
    const bool open = read_lines(pfd.fd, buffer, lines);
    for (const auto& line : lines) {
      auto msg = upstream::parse_upstream_line(line);
      if (!msg) continue;  // events and anything else are the bridge's business
      const auto* state = std::get_if<upstream::state_msg>(&*msg);
      if (state == nullptr) continue;
      const std::string name = upstream::to_string(state->state);
      std::cout << "account " << options.account << ": " << name
                << (state->reason.empty() ? "" : " (" + state->reason + ")") << '\n'
                << std::flush;
      if (state->state == upstream::link_state::qr && !state->qr.empty() && state->qr != shown_qr)
        show_qr(options.account, shown_qr = state->qr);
      if (!state->pairing_code.empty() && state->pairing_code != shown_code)
        show_code(options.account, shown_code = state->pairing_code);
      if (state->state == upstream::link_state::connected) {
        // Right after linking, Baileys is still saving its new credentials
        // and keys; give it a moment before asking it to stop.
        std::this_thread::sleep_for(std::chrono::seconds(2));
        dismiss(**child);
        return outcome::linked;
      }
      if (state->state == upstream::link_state::logged_out) {
        dismiss(**child);
        return outcome::logged_out;
      }
    }
    if (!open) {
      std::cerr << "pair: the sidecar exited " << (*child)->wait().describe() << '\n';
      return outcome::failed;
    }
  }
  dismiss(**child);
  return outcome::failed;
}

int pair_standalone(const bridge_config& cfg, const account_config& account,
                    const pair_options& options) {
  std::string lock_error;
  const int lock_fd = supervisor::lock_data_dir(cfg.bridge.data_dir, lock_error);
  if (lock_fd < 0) {
    std::cerr << "pair: " << lock_error << "\n(a bridge seems to run but does not answer HTTP at "
              << options.url << ")\n";
    return 1;
  }
  const std::string dir = upstream::find_sidecar_dir(account.baileys.sidecar_dir, options.self_exe);
  if (auto err = upstream::check_sidecar_installed(dir)) {
    std::cerr << "pair: " << describe(err) << '\n';
    ::close(lock_fd);
    return 1;
  }
  account_config paired = account;
  if (!options.phone.empty()) paired.baileys.pair_phone = options.phone;
  const std::string account_path = account_dir(cfg, account.name);
  const auto argv = upstream::sidecar_argv(paired, account_path, dir);
  std::cout << "pair: no bridge is running; starting the sidecar for account " << account.name
            << '\n';
  const auto deadline = clock_type::now() + options.timeout;
  int code = 1;
  for (int round = 0; round < 2; ++round) {
    const outcome result =
        run_sidecar_once(argv, upstream::sidecar_state_dir(account_path), options, deadline);
    if (result == outcome::linked) {
      std::cout << "account " << account.name
                << ": linked. Start the bridge (wabridge run) to receive its messages.\n";
      code = 0;
      break;
    }
    if (result != outcome::logged_out || round == 1) break;
    // Revoked credentials: keep them aside and pair afresh (once).
    const std::string auth = upstream::sidecar_state_dir(account_path) + "/auth";
    const std::string aside =
        auth + ".logged-out-" +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    std::error_code ec;
    std::filesystem::rename(auth, aside, ec);
    if (ec) {
      std::cerr << "pair: cannot move " << auth << " aside: " << ec.message() << '\n';
      break;
    }
    std::cout << "pair: the old login was revoked; kept it as " << aside << " and pairing afresh\n";
  }
  if (code != 0)
    std::cerr << "pair: account " << account.name << " is not linked"
              << (interrupted ? " (interrupted)" : "") << '\n';
  ::close(lock_fd);
  return code;
}

}  // namespace

int run_pair_command(const bridge_config& cfg, const pair_options& options) {
  const account_config* account = cfg.find_account(options.account);
  if (account == nullptr) {
    std::cerr << "pair: no account \"" << options.account << "\" in the config\n";
    return 2;
  }
  if (account->upstream != upstream_kind::baileys) {
    std::cerr << "pair: account \"" << options.account
              << "\" uses the simulated upstream; only upstream = \"baileys\" accounts pair\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  pair_options opts = options;
  if (opts.url.empty()) opts.url = "http://" + cfg.bridge.listen;
  bridge_link link{httplib::Client(opts.url),
                   {{"Host", "localhost"}},
                   "/accounts/" + account->name + "/pairing"};
  link.client.set_connection_timeout(2, 0);
  link.client.set_read_timeout(10, 0);
  if (!account->token.empty()) link.headers.emplace("Authorization", "Bearer " + account->token);
  if (auto first = ask(link, false)) return pair_through_bridge(link, opts, std::move(*first));
  return pair_standalone(cfg, *account, opts);
}

}  // namespace wabridge
