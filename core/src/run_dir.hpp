#pragma once
// Run directories: runs/<pipeline name>/<run id>/ unless --run-dir names one.
#include <string>

#include "plan.hpp"

namespace tributary::core {

// A new run id: UTC date and time plus a random suffix, e.g. 20261122-143005-7f3a.
std::string new_run_id();
// Where a run of `pipeline_name` goes; `chosen_dir` (from --run-dir) wins when not empty.
RunInfo make_run_info(const std::string& pipeline_name, const std::string& chosen_dir);
// What stops a run from using its directory, before anything starts: a chosen directory that
// already holds files (an earlier run's files would be appended to), or a place where it cannot
// be created. Empty when there is none.
// `own_file`, when given, is a file the caller put there itself (a resumed run's pipeline): a folder
// holding only it counts as empty.
std::string run_dir_problem(const RunInfo& run, const std::string& own_file = {});
// Creates the directory and saves the expanded pipeline file in it as pipeline.toml.
// Throws std::runtime_error naming the path and the reason (permissions, a full disk).
void create_run_dir(const RunInfo& run, const std::string& expanded_toml);

}  // namespace tributary::core
