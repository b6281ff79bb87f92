// wabridge: one binary, subcommands. This file only parses the command line
// and hands over; the work lives in actors/, sim/, config/ and app/status.
#include "actors/worker.hpp"
#include "app/pair_command.hpp"
#include "app/status_command.hpp"
#include "common/logging.hpp"
#include "common/version.hpp"
#include "config/config.hpp"
#include "sim/sim_upstream.hpp"
#include "supervisor/file_identity.hpp"
#include "supervisor/process_supervisor.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <variant>

namespace {

// Loads FILE, or the embedded demo when no file was given; prints every
// problem as FILE:LINE:COL: KEY: MESSAGE.
std::optional<wabridge::bridge_config> load_or_report(const std::string& path) {
  auto result = path.empty() ? wabridge::load_demo_config() : wabridge::load_config_file(path);
  if (auto* problems = std::get_if<std::vector<wabridge::config_problem>>(&result)) {
    for (const auto& p : *problems) std::cerr << wabridge::to_string(p) << '\n';
    std::cerr << problems->size() << " problem" << (problems->size() == 1 ? "" : "s")
              << " in the config; nothing was started\n";
    return std::nullopt;
  }
  return std::get<wabridge::bridge_config>(std::move(result));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wabridge: a durable, supervised WhatsApp bridge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("wabridge ") + wabridge::version);

  std::string config_path;
  auto* run = app.add_subcommand(
      "run", "Run the bridge under its supervisor (the embedded demo config without -c)");
  run->add_option("-c,--config", config_path, "TOML config file");
  // Carried across the supervisor's re-exec of itself; not for operators.
  wabridge::supervisor::supervisor_options supervisor_opts;
  run->add_option("--listen-fd", supervisor_opts.inherited_listen_fd)->group("");
  run->add_option("--generation", supervisor_opts.generation)->group("");
  run->add_option("--restarts", supervisor_opts.restarts)->group("");
  run->add_option("--crashes", supervisor_opts.crashes)->group("");
  run->add_option("--reexec-reason", supervisor_opts.reexec_reason)->group("");
  run->add_option("--last-exit", supervisor_opts.last_exit)->group("");

  auto* worker = app.add_subcommand("worker", "Run one worker generation (internal)");
  wabridge::worker_options worker_opts;
  worker->add_option("-c,--config", config_path, "TOML config file");
  worker->add_option("--listen-fd", worker_opts.listen_fd, "inherited listening socket");
  worker->add_option("--ready-fd", worker_opts.ready_fd, "fd to announce readiness on");
  worker->add_option("--supervisor-pid", worker_opts.supervisor_pid, "exit if this parent is gone");
  worker->add_option("--generation", worker_opts.generation, "worker generation number");
  worker->group("");  // hidden

  auto* check = app.add_subcommand("check-config", "Validate a config file and exit");
  check->add_option("-c,--config", config_path, "TOML config file")->required();

  wabridge::status_options status_opts;
  auto* status = app.add_subcommand("status", "Show the running bridge's processes and accounts");
  status->add_option("-c,--config", config_path, "TOML config file (for the listen address)");
  status->add_flag("--json", status_opts.json, "machine-readable output");
  status->add_option("--url", status_opts.url, "base URL instead of the config's listen address");
  status->add_option("--token", status_opts.token, "bearer token for the default account");

  wabridge::pair_options pair_opts;
  std::string pair_timeout = "5m";
  auto* pair = app.add_subcommand(
      "pair", "Link a Baileys account to a phone (shows the QR code; exits once linked)");
  pair->add_option("-c,--config", config_path, "TOML config file");
  pair->add_option("--account", pair_opts.account, "account to pair")->required();
  pair->add_option("--phone", pair_opts.phone,
                   "pair by code for this phone number (digits with country code) instead of QR");
  pair->add_option("--timeout", pair_timeout, "give up after this long (default 5m)");
  pair->add_option("--url", pair_opts.url, "base URL of a running bridge instead of the config's");

  wabridge::sim::sim_upstream_options sim_opts;
  auto* sim = app.add_subcommand("sim-upstream", "Simulated WhatsApp server (internal)");
  sim->add_option("--account", sim_opts.account)->required();
  sim->add_option("--ledger-dir", sim_opts.ledger_dir)->required();
  sim->add_option("--rate", sim_opts.rate);
  sim->add_option("--total", sim_opts.total);
  sim->add_option("--seed", sim_opts.seed);
  sim->add_option("--body-bytes", sim_opts.body_bytes);
  sim->add_option("--chats", sim_opts.chats);
  sim->add_option("--send-fail", sim_opts.send_fail);
  sim->add_option("--send-stall", sim_opts.send_stall);
  sim->add_option("--send-delay-ms", sim_opts.send_delay_ms);
  sim->group("");  // hidden

  CLI11_PARSE(app, argc, argv);

  if (*sim) return wabridge::sim::run_sim_upstream(sim_opts);

  if (*check) {
    auto cfg = load_or_report(config_path);
    if (!cfg) return 2;
    std::cout << config_path << ": OK, " << cfg->accounts.size() << " account"
              << (cfg->accounts.size() == 1 ? "" : "s") << ", listen " << cfg->bridge.listen
              << ", data_dir " << cfg->bridge.data_dir << '\n';
    return 0;
  }

  if (*status) {
    if (status_opts.url.empty()) {
      auto cfg = load_or_report(config_path);
      if (!cfg) return 2;
      status_opts.url = "http://" + cfg->bridge.listen;
      status_opts.data_dir = cfg->bridge.data_dir;
      if (status_opts.token.empty()) {
        if (const auto* acc = cfg->find_account(cfg->bridge.default_account))
          status_opts.token = acc->token;
      }
      for (const auto& acc : cfg->accounts)
        status_opts.account_tokens.emplace_back(acc.name, acc.token);
    }
    return wabridge::run_status_command(status_opts);
  }

  if (*pair) {
    auto cfg = load_or_report(config_path);
    if (!cfg) return 2;
    auto timeout = wabridge::parse_duration(pair_timeout);
    if (!timeout || timeout->count() == 0) {
      std::cerr << "pair: --timeout must be a duration like \"5m\" or \"90s\"\n";
      return 2;
    }
    pair_opts.timeout = *timeout;
    pair_opts.self_exe = wabridge::supervisor::running_binary_path();
    return wabridge::run_pair_command(*cfg, pair_opts);
  }

  if (*worker) {
    // A worker dies with its supervisor, even a kill -9'd one: SIGTERM makes
    // it drain (and its own watchdog bounds that). The parent may already be
    // gone by the time the death signal is armed, hence the check after it.
    if (worker_opts.supervisor_pid > 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != worker_opts.supervisor_pid) return 3;
    }
    auto cfg = load_or_report(config_path);
    if (!cfg) return 2;
    wabridge::setup_logging(cfg->log.level);
    return wabridge::run_worker(*cfg, worker_opts);
  }

  // run: the supervisor process.
  auto cfg = load_or_report(config_path);
  if (!cfg) return 2;
  supervisor_opts.config_path = config_path.empty() ? std::string{} : cfg->source_path;
  wabridge::setup_logging(cfg->log.level);
  return wabridge::supervisor::run_supervisor(*cfg, supervisor_opts);
}
