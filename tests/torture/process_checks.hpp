// The torture run's orphan check: after every recovery, the processes that
// belong to the run (every process whose command line mentions the run's
// directory) must form exactly one bridge: one supervisor, exactly one live
// worker under it, and sims that are that worker's children, one per ledger.
// Anything else is an orphan or a second worker left behind by a fault.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace wabridge::torture {

/// What is wrong with the run's processes right now, "" when nothing is.
/// `supervisor` is the current `wabridge run` (also its process group id);
/// -1 when none should run, so that any process of the run is an orphan.
std::string process_tree_problem(const std::string& run_dir, pid_t supervisor);

/// The live (not zombie) `wabridge worker` children of `supervisor`.
std::vector<pid_t> live_workers(pid_t supervisor);

/// True once none of `pids` exists, reaping those reparented to this
/// process (the harness makes it a child subreaper).
bool all_gone(const std::vector<pid_t>& pids);

}  // namespace wabridge::torture
