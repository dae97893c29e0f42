#pragma once
// `tributary runs ...`: the run store read back (list, show, export, compare, rm). Each command
// prints to stdout and returns the exit code; store errors throw StoreError.
#include <string>
#include <vector>

namespace tributary::core {

struct RunsOptions {
  std::string store;  // the database path, already resolved
  std::string pipeline;
  std::string status;
  std::vector<std::string> ids;
  std::string format = "csv";
  std::string node;
};

int runs_list(const RunsOptions& o);
int runs_show(const RunsOptions& o);
int runs_export(const RunsOptions& o);
int runs_compare(const RunsOptions& o);
int runs_rm(const RunsOptions& o);

}  // namespace tributary::core
