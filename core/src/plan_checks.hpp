#pragma once
// Checks of the whole pipeline, made once every node is configured and every link resolved:
// what no single node or link can see on its own.
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "plan.hpp"

namespace tributary::core {

// When --set changed a node's plugin, the keys the new type does not declare (left from the old
// one) are dropped and listed in a note; keys that were themselves given with --set stay, and are
// checked as usual.
std::vector<TableEntry> drop_undeclared(const NodeDecl& decl, const NodeSpec& spec, std::vector<TableEntry> params,
                                        std::vector<Diagnostic>& notes);

// A node's parameter values with relative input and output paths (see PathRole) made absolute:
// against the pipeline file's folder for a value written in the file, against the current
// directory for one given with --set, as a shell user expects.
std::vector<TableEntry> resolve_paths(const NodeDecl& decl, const NodeSpec& spec, const std::string& pipeline_file,
                                      std::vector<TableEntry> params);

// Where a parameter problem is shown: an unknown key at the key itself, anything else at the value.
Location issue_location(const NodeDecl& decl, const NodeSpec& spec, const ParamIssue& issue);

// Appends a located error for each problem found; a node whose own declaration or links already
// have an error is not reported again.
void check_pipeline(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics);

}  // namespace tributary::core
