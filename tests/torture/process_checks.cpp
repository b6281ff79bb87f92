// The torture run's orphan check (see the header).
#include "torture/process_checks.hpp"

#include "support/test_harness.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <map>

namespace wabridge::torture {

namespace {

// argv joined with spaces ("" for a zombie or a vanished process).
std::string command_line(pid_t pid) {
  std::string text = test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text)
    if (c == '\0') c = ' ';
  return text;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The value following `flag` in a space-joined command line.
std::string argument_after(const std::string& cmdline, const std::string& flag) {
  const auto at = cmdline.find(" " + flag + " ");
  if (at == std::string::npos) return {};
  const auto begin = at + flag.size() + 2;
  return cmdline.substr(begin, cmdline.find(' ', begin) - begin);
}

}  // namespace

std::vector<pid_t> live_workers(pid_t supervisor) {
  std::vector<pid_t> out;
  if (supervisor <= 0) return out;
  for (pid_t child : test::children_of(supervisor)) {
    const auto stat = test::read_proc_stat(child);
    if (!stat || stat->state == "Z") continue;
    if (contains(command_line(child), " worker ")) out.push_back(child);
  }
  return out;
}

std::string process_tree_problem(const std::string& run_dir, pid_t supervisor) {
  std::string problems;
  const auto workers = live_workers(supervisor);
  if (supervisor > 0 && workers.size() != 1)
    problems += std::to_string(workers.size()) + " live workers under the supervisor; ";
  std::map<std::string, int> sims_per_ledger;
  test::for_each_process([&](pid_t pid, const test::proc_stat& stat) {
    if (stat.state == "Z") return;
    const std::string cmdline = command_line(pid);
    if (!contains(cmdline, run_dir)) return;
    const std::string who = "pid " + std::to_string(pid) + " (" + cmdline.substr(0, 160) + ")";
    if (supervisor <= 0 || stat.pgrp != supervisor) {
      problems += "orphan outside the bridge's group: " + who + "; ";
      return;
    }
    if (contains(cmdline, "index.js") && contains(cmdline, " --state-dir ")) {
      // A Baileys sidecar. One per state dir, ever (its flock): two would
      // mean two writers of one spool and two WhatsApp connections.
      if (++sims_per_ledger[argument_after(cmdline, "--state-dir")] == 2)
        problems += "a second sidecar on one state dir: " + who + "; ";
      if (workers.size() == 1 && stat.ppid != workers.front())
        problems += "sidecar not under the current worker: " + who + "; ";
    }
    if (contains(cmdline, " sim-upstream ")) {
      if (workers.size() == 1 && stat.ppid != workers.front())
        problems += "sim not under the current worker: " + who + "; ";
      if (++sims_per_ledger[argument_after(cmdline, "--ledger-dir")] == 2)
        problems += "a second sim on one ledger: " + who + "; ";
    }
  });
  return problems;
}

bool all_gone(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    int status = 0;
    (void)::waitpid(pid, &status, WNOHANG);
    if (::kill(pid, 0) == 0 || errno != ESRCH) return false;
  }
  return true;
}

}  // namespace wabridge::torture
