// The exclusive lock on <data_dir>/wabridge.lock. Two processes writing one
// data dir would interleave journal writers, sim ledgers and Baileys auth
// state, so the worker holds it for its lifetime and `wabridge pair` holds
// it while it runs a sidecar of its own. flock(2): released when the process
// dies, however it dies. Stateless functions; safe from any thread.
#pragma once

#include <string>

namespace wabridge::supervisor {

/// Creates data_dir if needed and takes the lock without waiting. Returns
/// the lock's fd (close it to release), or -1 with `error` saying why
/// (e.g. "data_dir ./data is in use by another wabridge (lock ... is held)").
int lock_data_dir(const std::string& data_dir, std::string& error);

}  // namespace wabridge::supervisor
